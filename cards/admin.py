from django.contrib import admin

from cards.models import Card, CustomField, LedgerEntry, Program, Tier
from loyalty.admin import RecordAdmin


class TierInline(admin.TabularInline):
    model = Tier
    extra = 0


class CustomFieldInline(admin.TabularInline):
    model = CustomField
    extra = 0


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    list_display = ["name", "merchant", "kind", "mechanism", "stamps_per_reward", "archived_at"]
    list_filter = ["kind", "merchant"]
    search_fields = ["name"]
    inlines = [TierInline, CustomFieldInline]


@admin.register(Card)
class CardAdmin(admin.ModelAdmin):
    """Read-mostly: balances change only through the ledger services, never by hand here."""

    list_display = ["serial", "merchant", "program", "customer", "status", "issued_at"]
    list_filter = ["status", "merchant"]
    search_fields = ["serial", "customer__email", "customer__last_name"]
    raw_id_fields = ["customer", "referred_by", "program"]
    readonly_fields = [
        f.name
        for f in Card._meta.fields
        if f.name not in {"expires_on", "utm_source", "holder_name"}
    ]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(RecordAdmin):
    """The ledger is append-only: the admin can look, not touch."""

    list_display = ["created_at", "card", "kind", "source", "actor", "amount_delta"]
    list_filter = ["kind", "source", "merchant"]
    search_fields = ["card__serial", "operation_key"]
    raw_id_fields = ["card", "referred_card", "reverses", "actor"]
