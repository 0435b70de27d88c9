from django.contrib import admin

from loyalty.models import Membership, Merchant


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "currency", "time_zone", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "merchant", "role", "created_at"]
    list_filter = ["role", "merchant"]
    search_fields = ["user__username", "user__email", "merchant__name"]
    autocomplete_fields = ["user", "merchant"]
