"""Reads of the wallet app: the pass behind a PassKit request, and what changed for a device.

A pass's *update tag* (Apple's ``lastUpdated`` / ``passesUpdatedSince``) is its ``updated_at`` as
a whole number of microseconds since the epoch, written as a string: exact (the database keeps
microseconds), ordered, and opaque to the device, which only hands it back.
"""

from __future__ import annotations

import datetime
import hmac
from dataclasses import dataclass

from loyalty import clock
from wallet import conf
from wallet.apple.credentials import apple_credentials
from wallet.apple.pkpass import pass_last_modified
from wallet.models import AppleRegistration, WalletPass

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_MICROSECOND = datetime.timedelta(microseconds=1)


class PassKitRefused(Exception):
    """A PassKit request refused: 404 (no such pass type or pass), 401 (wrong or missing
    token) or 400 (a body the protocol does not allow)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def update_tag(moment: datetime.datetime) -> str:
    return str((moment - _EPOCH) // _MICROSECOND)


def tag_moment(tag: str) -> datetime.datetime | None:
    """The moment a tag stands for; None for a missing or unreadable one (everything is new)."""
    if not tag or not tag.isdigit() or len(tag) > 20:
        return None
    try:
        return _EPOCH + int(tag) * _MICROSECOND
    except OverflowError:
        return None


def is_our_pass_type(pass_type_id: str) -> bool:
    """Whether passes of this type are ours (none are while Apple Wallet is not set up)."""
    return conf.apple_enabled() and pass_type_id == apple_credentials().pass_type_id


def wallet_pass_for_serial(*, pass_type_id: str, serial: str) -> WalletPass | None:
    """The pass of the card with this serial, whether the card is live or deleted (a deleted
    card's pass is still served, void, so devices learn it)."""
    if not is_our_pass_type(pass_type_id):
        return None
    return (
        WalletPass.objects.select_related("card__program", "card__merchant", "merchant")
        .filter(card__serial=serial)
        .first()
    )


def token_matches(wallet_pass: WalletPass, token: str | None) -> bool:
    # Constant time: the comparison must not tell how much of a guess was right.
    expected = wallet_pass.authentication_token.encode()
    return token is not None and hmac.compare_digest(expected, token.encode())


def passkit_pass(*, pass_type_id: str, serial: str, token: str | None) -> WalletPass:
    """The pass a PassKit request names, when its token is the pass's own; else refused."""
    wallet_pass = wallet_pass_for_serial(pass_type_id=pass_type_id, serial=serial)
    if wallet_pass is None:
        raise PassKitRefused(404)
    if not token_matches(wallet_pass, token):
        raise PassKitRefused(401)
    return wallet_pass


def pass_http_last_modified(wallet_pass: WalletPass) -> int:
    """The pass's Last-Modified in whole seconds since the epoch, HTTP's resolution.

    While the second the pass changed in is not over, another change can still land in that
    same second, and If-Modified-Since could not tell the two copies apart: a copy served then
    is dated one second earlier, so the device fetches it again once (not missing a change).
    """
    second = int(pass_last_modified(wallet_pass).timestamp())
    return second if int(clock.now().timestamp()) > second else second - 1


def pass_modified_since(wallet_pass: WalletPass, since: int) -> bool:
    """Whether the pass changed after the copy dated ``since`` (an If-Modified-Since)."""
    return int(pass_last_modified(wallet_pass).timestamp()) > since


@dataclass(frozen=True)
class UpdatedSerials:
    serial_numbers: list[str]
    last_updated: str


def serials_updated_since(*, device_id: str, tag: str = "") -> UpdatedSerials | None:
    """The serials of the passes registered on this device that changed after ``tag`` (all
    of them without a tag), and the tag to ask with next time; None when there are none."""
    since = tag_moment(tag)
    registrations = AppleRegistration.objects.filter(device__device_library_identifier=device_id)
    if since is not None:
        registrations = registrations.filter(wallet_pass__updated_at__gt=since)
    rows = list(
        registrations.order_by("wallet_pass__card__serial").values_list(
            "wallet_pass__card__serial", "wallet_pass__updated_at"
        )
    )
    if not rows:
        return None
    newest = max(updated_at for _serial, updated_at in rows)
    return UpdatedSerials(
        serial_numbers=[serial for serial, _updated_at in rows], last_updated=update_tag(newest)
    )
