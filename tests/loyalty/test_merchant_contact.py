"""The merchant's contact details: the settings page, the checks of each field, the audit log,
and the wallet passes issued again when they change (who may open the page: the permission
matrix)."""

from __future__ import annotations

from typing import Any

import phonenumbers
import pytest
from django.test import Client
from django.urls import reverse

from loyalty import services
from loyalty.models import AuditAction, AuditEvent, Merchant, UserPreference
from loyalty.signals import merchant_changed
from tests.factories import StampProgramFactory, issue_card
from wallet.models import WalletPass
from wallet.services import wallet_pass_ensure

pytestmark = pytest.mark.django_db

URL = "settings:contact"
FULL = {
    "phone": "(415) 555-0123",
    "email": "hello@Demo-Coffee.example",
    "website": "demo-coffee.example/visit",
    "address": "  12 Market Street,\n San Francisco  ",
}
BLANK = {"phone": "", "email": "", "website": "", "address": ""}


def _contact(merchant: Merchant) -> tuple[str, str, str, str]:
    merchant.refresh_from_db()
    return merchant.contact_phone, merchant.contact_email, merchant.website, merchant.address


def _update(merchant: Merchant, actor: Any, **fields: str) -> Merchant:
    return services.merchant_update_contact(merchant=merchant, actor=actor, **(BLANK | fields))


def _contact_events(merchant: Merchant) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(merchant=merchant, action=AuditAction.CONTACT_CHANGED))


# --------------------------------------------------------------------------- the page


def test_an_owner_saves_the_contact_as_customers_will_see_it(
    owner_client: Client, merchant: Merchant
) -> None:
    response = owner_client.post(reverse(URL), FULL)

    assert response.status_code == 302
    assert response["Location"] == reverse(URL)
    assert _contact(merchant) == (
        "+14155550123",  # the merchant's country (US) for a number without +country code
        "hello@demo-coffee.example",
        "https://demo-coffee.example/visit",
        "12 Market Street, San Francisco",
    )
    page = owner_client.get(reverse(URL)).content.decode()
    assert "Contact details saved." in page
    assert 'value="+1 415-555-0123"' in page
    assert 'value="https://demo-coffee.example/visit"' in page


def test_an_admin_edits_the_contact_too(admin_client_: Client, merchant: Merchant) -> None:
    response = admin_client_.post(reverse(URL), BLANK | {"email": "admin@shop.example"})

    assert response.status_code == 302
    assert _contact(merchant)[1] == "admin@shop.example"


def test_the_settings_overview_links_to_the_contact_page(owner_client: Client) -> None:
    page = owner_client.get(reverse("settings:home")).content.decode()
    assert f'href="{reverse(URL)}"' in page


def test_a_number_without_country_code_is_read_in_the_merchants_country(
    owner_client: Client, merchant: Merchant
) -> None:
    merchant.country = "DE"
    merchant.save()
    example = phonenumbers.example_number("DE")
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)

    owner_client.post(reverse(URL), BLANK | {"phone": national})

    expected = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    assert expected.startswith("+49")
    assert _contact(merchant)[0] == expected


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "12", "Enter a valid phone number, e.g. +1 415 555 0123."),
        ("phone", "call us", "Enter a valid phone number, e.g. +1 415 555 0123."),
        ("email", "hello@", "Enter a valid email address."),
        ("website", "javascript:alert(1)", "Enter a valid web address, e.g. https://example.com."),
        (
            "website",
            "ftp://example.com/menu",
            "Enter a valid web address, e.g. https://example.com.",
        ),
        ("website", "https://", "Enter a valid web address, e.g. https://example.com."),
    ],
)
def test_a_bad_detail_is_refused_with_its_message_and_nothing_is_saved(
    owner_client: Client, merchant: Merchant, field: str, value: str, message: str
) -> None:
    response = owner_client.post(reverse(URL), FULL | {field: value})

    assert response.status_code == 422
    assert message in response.content.decode()
    assert _contact(merchant) == ("", "", "", "")
    assert _contact_events(merchant) == []


def test_every_bad_detail_is_named_at_once(owner_client: Client, merchant: Merchant) -> None:
    response = owner_client.post(
        reverse(URL), {"phone": "12", "email": "x", "website": "javascript:x", "address": ""}
    )

    page = response.content.decode()
    assert response.status_code == 422
    assert "Enter a valid phone number" in page
    assert "Enter a valid email address." in page
    assert "Enter a valid web address" in page


def test_the_service_refuses_what_no_form_checked(owner: Any, merchant: Merchant) -> None:
    with pytest.raises(services.ValidationError) as refused:
        _update(
            merchant,
            owner,
            phone="+1 415 555 012",
            email="not an address",
            website="javascript:alert(document.cookie)",
            address="x" * 201,
        )

    assert set(refused.value.message_dict) == {"phone", "email", "website", "address"}
    assert _contact(merchant) == ("", "", "", "")


# --------------------------------------------------------------------------- the audit log


def test_a_change_is_written_to_the_audit_log_in_english(
    owner_client: Client, owner: Any, merchant: Merchant
) -> None:
    UserPreference.objects.create(user=owner, language="de")
    owner_client.post(
        reverse(URL), BLANK | {"phone": "+1 415 555 0123", "website": "https://a.example"}
    )

    (event,) = _contact_events(merchant)
    assert event.actor == owner
    assert event.summary == "Contact details changed: phone, website"
    assert event.details == {
        "phone": {"from": "", "to": "+14155550123"},
        "website": {"from": "", "to": "https://a.example"},
    }


def test_a_removed_detail_is_logged_as_changed(owner: Any, merchant: Merchant) -> None:
    _update(merchant, owner, email="a@shop.example", address="1 Main St")

    _update(merchant, owner, address="1 Main St")

    assert _contact(merchant) == ("", "", "", "1 Main St")
    newest = _contact_events(merchant)[0]
    assert newest.summary == "Contact details changed: email"
    assert newest.details == {"email": {"from": "a@shop.example", "to": ""}}


def test_saving_the_same_details_again_writes_nothing(owner: Any, merchant: Merchant) -> None:
    _update(merchant, owner, phone="+14155550123", email="a@shop.example")
    received: list[Merchant] = []

    def receiver(sender: Any, *, merchant: Merchant, **kwargs: Any) -> None:
        received.append(merchant)

    merchant_changed.connect(receiver)
    try:
        # The same number written another way is the same number.
        _update(merchant, owner, phone="(415) 555-0123", email=" a@SHOP.example ")
    finally:
        merchant_changed.disconnect(receiver)

    assert received == []
    assert len(_contact_events(merchant)) == 1


# --------------------------------------------------------------------------- the wallet passes


def _pass_of(merchant: Merchant) -> WalletPass:
    return wallet_pass_ensure(card=issue_card(StampProgramFactory(merchant=merchant)))


def test_a_change_issues_the_merchants_wallet_passes_again_and_no_one_elses(
    owner: Any, merchant: Merchant, other_merchant: Merchant
) -> None:
    ours, theirs = _pass_of(merchant), _pass_of(other_merchant)

    _update(merchant, owner, phone="+14155550123")

    assert WalletPass.objects.get(pk=ours.pk).version == ours.version + 1
    assert WalletPass.objects.get(pk=theirs.pk).version == theirs.version


def test_an_unchanged_save_leaves_the_passes_alone(owner: Any, merchant: Merchant) -> None:
    _update(merchant, owner, website="https://shop.example")
    wallet_pass = _pass_of(merchant)

    _update(merchant, owner, website="https://shop.example")

    assert WalletPass.objects.get(pk=wallet_pass.pk).version == wallet_pass.version


def test_a_refused_change_leaves_the_passes_alone(owner: Any, merchant: Merchant) -> None:
    wallet_pass = _pass_of(merchant)

    with pytest.raises(services.ValidationError):
        _update(merchant, owner, website="javascript:alert(1)", phone="+14155550123")

    assert WalletPass.objects.get(pk=wallet_pass.pk).version == wallet_pass.version
