from django.contrib import admin

from customers.models import Customer, SegmentChange


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["first_name", "last_name", "email", "phone", "merchant", "segment"]
    list_filter = ["segment", "merchant"]
    search_fields = ["first_name", "last_name", "email", "phone"]
    readonly_fields = ["total_visits", "last_visit_at", "last_activity_at", "segment"]


@admin.register(SegmentChange)
class SegmentChangeAdmin(admin.ModelAdmin):
    list_display = ["customer", "from_segment", "to_segment", "changed_at"]
    list_filter = ["to_segment", "merchant"]
