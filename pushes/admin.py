"""Read-only views of push records: states change only through pushes.services."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from pushes.models import Delivery, DeliveryAttempt, PushMessage, PushSubscription


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "subscription", "status", "attempts", "status_code", "reason", "finished_at"
    )  # fmt: skip

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PushSubscription)
class PushSubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["id", "card", "merchant", "channel", "device_label", "created_at", "expired_at"]
    list_filter = ["channel", "merchant"]
    search_fields = ["card__serial"]
    raw_id_fields = ["card"]


@admin.register(PushMessage)
class PushMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "card", "merchant", "status", "send_at", "finished_at"]
    list_filter = ["status", "merchant"]
    search_fields = ["card__serial", "body"]
    raw_id_fields = ["card"]
    inlines = [DeliveryInline]


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "number", "started_at", "finished_at", "outcome", "status_code", "retry_after", "detail"
    )  # fmt: skip

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "message", "subscription", "status", "attempts", "status_code"]
    list_filter = ["status"]
    raw_id_fields = ["message", "subscription"]
    inlines = [AttemptInline]
