from django.contrib import admin

from feedback.models import Feedback


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ["card", "rating", "created_at"]
    list_filter = ["rating", "merchant"]
    raw_id_fields = ["card", "customer"]
