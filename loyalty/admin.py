from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from loyalty.models import AuditEvent, Invitation, Membership, Merchant


class RecordAdmin(admin.ModelAdmin):
    """For records (the audit log, the ledger): the admin can read them, never write them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = [
        "email",
        "merchant",
        "role",
        "sent_at",
        "expires_at",
        "accepted_at",
        "revoked_at",
    ]
    list_filter = ["role", "merchant"]
    search_fields = ["email", "merchant__name"]
    readonly_fields = ["token_hash", "invited_by", "accepted_by"]


@admin.register(AuditEvent)
class AuditEventAdmin(RecordAdmin):
    """The audit log is a record: the admin can read it, not write it."""

    list_display = ["created_at", "merchant", "actor_name", "action", "summary"]
    list_filter = ["action", "merchant"]
    search_fields = ["summary", "actor_name"]
