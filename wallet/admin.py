"""Read-only views of wallet records: states change only through wallet.services."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from wallet.models import AppleDevice, ApplePush, AppleRegistration, WalletPass


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WalletPass)
class WalletPassAdmin(ReadOnlyAdmin):
    list_display = [
        "id", "card", "merchant", "version", "apple_pushed_version", "google_synced_version",
        "updated_at",
    ]  # fmt: skip
    list_filter = ["merchant"]
    search_fields = ["card__serial"]
    raw_id_fields = ["card"]
    # The token authenticates the pass's device requests: never shown.
    exclude = ["authentication_token"]


@admin.register(AppleDevice)
class AppleDeviceAdmin(ReadOnlyAdmin):
    list_display = ["id", "__str__", "created_at", "updated_at"]
    # The push token addresses the device through APNs: not shown either.
    exclude = ["push_token"]


@admin.register(AppleRegistration)
class AppleRegistrationAdmin(ReadOnlyAdmin):
    list_display = ["id", "device", "wallet_pass", "merchant", "created_at"]
    list_filter = ["merchant"]
    search_fields = ["wallet_pass__card__serial"]
    raw_id_fields = ["device", "wallet_pass", "subscription"]


@admin.register(ApplePush)
class ApplePushAdmin(ReadOnlyAdmin):
    list_display = [
        "id", "wallet_pass", "registration", "version", "status", "attempts", "status_code",
        "reason", "finished_at",
    ]  # fmt: skip
    list_filter = ["status"]
    search_fields = ["wallet_pass__card__serial", "apns_id"]
    raw_id_fields = ["wallet_pass", "registration"]
