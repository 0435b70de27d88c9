"""The merchant's contact on Google Wallet cards: links to call, write and visit on the
program's class (the same for every card of the merchant), the address as text, described in
the merchant's language, and the class sent again when they change."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from cards.models import Card, Program
from loyalty.models import Merchant
from loyalty.services import merchant_update_contact
from tests.wallet.google_api import GoogleWalletStandIn
from tests.wallet.google_fixtures import saved_to_google
from wallet import tasks
from wallet.google.objects import class_id_for, fingerprint, loyalty_class
from wallet.services import PASS_CHANGED_TASK

pytestmark = pytest.mark.django_db

Queued = list[tuple[str, tuple[Any, ...], float]]


def _set_contact(merchant: Merchant, **fields: str) -> None:
    blank = {"phone": "", "email": "", "website": "", "address": ""}
    merchant_update_contact(merchant=merchant, actor=None, **(blank | fields))


def _links(data: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        link["id"]: (link["uri"], link["description"]) for link in data["linksModuleData"]["uris"]
    }


def test_a_merchant_without_contact_details_gives_the_class_no_links(
    google_credentials: Any, stamp_program: Program
) -> None:
    data = loyalty_class(stamp_program)

    # Named even when empty, so a PATCH clears the details a merchant removed.
    assert data["linksModuleData"] == {"uris": []}
    assert data["textModulesData"] == []


def test_the_class_links_to_call_write_and_visit_the_merchant(
    google_credentials: Any, stamp_program: Program
) -> None:
    _set_contact(
        stamp_program.merchant,
        phone="(415) 555-0123",
        email="hello@demo-coffee.example",
        website="https://demo-coffee.example/menu",
        address="12 Market Street, San Francisco",
    )

    data = loyalty_class(Program.objects.select_related("merchant").get(pk=stamp_program.pk))

    assert _links(data) == {
        "contact-phone": ("tel:+14155550123", "Phone"),
        "contact-email": ("mailto:hello@demo-coffee.example", "Email"),
        "contact-website": ("https://demo-coffee.example/menu", "Website"),
    }
    assert data["linksModuleData"]["uris"][0]["localizedDescription"] == {
        "defaultValue": {"language": "en", "value": "Phone"}
    }
    assert data["textModulesData"] == [
        {
            "id": "contact-address",
            "header": "Address",
            "localizedHeader": {"defaultValue": {"language": "en", "value": "Address"}},
            "body": "12 Market Street, San Francisco",
        }
    ]


def test_only_the_details_set_become_links(google_credentials: Any, stamp_program: Program) -> None:
    _set_contact(stamp_program.merchant, email="hello@demo-coffee.example")

    data = loyalty_class(Program.objects.select_related("merchant").get(pk=stamp_program.pk))

    assert list(_links(data)) == ["contact-email"]
    assert data["textModulesData"] == []


def test_the_descriptions_speak_the_merchants_language(
    google_credentials: Any, stamp_program: Program
) -> None:
    merchant = stamp_program.merchant
    merchant.language = "de"
    merchant.save()
    _set_contact(merchant, phone="+14155550123", website="https://demo-coffee.example")

    data = loyalty_class(Program.objects.select_related("merchant").get(pk=stamp_program.pk))

    links = _links(data)
    assert links["contact-phone"] == ("tel:+14155550123", "Telefon")
    with translation.override("de"):
        assert links["contact-website"][1] == translation.gettext("Website")
    assert data["linksModuleData"]["uris"][0]["localizedDescription"] == {
        "defaultValue": {"language": "de", "value": "Telefon"}
    }


def test_a_new_contact_changes_the_class_fingerprint(
    google_credentials: Any, stamp_program: Program
) -> None:
    before = fingerprint(loyalty_class(stamp_program))

    _set_contact(stamp_program.merchant, phone="+14155550123")

    program = Program.objects.select_related("merchant").get(pk=stamp_program.pk)
    assert fingerprint(loyalty_class(program)) != before


def _run_pass_changed(queued: Queued) -> None:
    """What the worker does with the queued pass updates."""
    for name, args, _countdown in list(queued):
        if name == PASS_CHANGED_TASK:
            queued.remove((name, args, _countdown))
            tasks.pass_changed(*args)


def _change_contact(capture: Any, merchant: Merchant, **fields: str) -> None:
    """Saved from the settings page, committed (so the pass updates are queued)."""
    with capture(execute=True):
        _set_contact(Merchant.objects.get(pk=merchant.pk), **fields)


def test_a_changed_contact_reaches_google_with_the_class_sent_again(
    google_api: GoogleWalletStandIn,
    client: Client,
    stamp_card: Card,
    queued: Queued,
    django_capture_on_commit_callbacks: Any,
) -> None:
    saved_to_google(client, stamp_card, google_api)
    class_id = class_id_for(stamp_card.program)
    merchant = stamp_card.merchant

    _change_contact(
        django_capture_on_commit_callbacks, merchant, phone="+14155550123", address="1 Main St"
    )
    _run_pass_changed(queued)

    (patch,) = google_api.api_requests(method="PATCH", path_contains="loyaltyClass")
    assert patch.status == 200
    assert _links(patch.body) == {"contact-phone": ("tel:+14155550123", "Phone")}
    assert _links(google_api.classes[class_id]) == {"contact-phone": ("tel:+14155550123", "Phone")}
    assert google_api.classes[class_id]["textModulesData"][0]["body"] == "1 Main St"

    # Removed from the settings: gone from the class at Google too.
    _change_contact(django_capture_on_commit_callbacks, merchant, address="1 Main St")
    _run_pass_changed(queued)

    assert _links(google_api.classes[class_id]) == {}
    assert google_api.classes[class_id]["textModulesData"][0]["body"] == "1 Main St"
