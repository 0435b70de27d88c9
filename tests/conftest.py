"""Shared fixtures: the four personas of the permission tests, programs and cards."""

from __future__ import annotations

import datetime
import hashlib
import io
from typing import Any

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone, translation
from PIL import Image

from cards import services as card_services
from cards.models import Card, CustomField, Program
from customers.imports import services as import_services
from loyalty import ratelimit
from loyalty.models import Invitation, Membership, Merchant, Role
from pushes.models import Campaign, PushMessage
from tests.factories import (
    CashbackProgramFactory,
    CustomerFactory,
    MembershipFactory,
    MerchantFactory,
    StampProgramFactory,
    UserFactory,
    issue_card,
)
from wallet.apple.credentials import TEST_PASS_TYPE_ID


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """Rate-limit counters live in the cache, shared by every test in the process: start each
    test with none (without flushing anything else the cache holds)."""
    ratelimit.reset()


@pytest.fixture(autouse=True)
def _english_between_tests() -> Any:
    """A request leaves its language active in the thread (as Django's own middleware does):
    every test starts, and leaves, in the default language."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def merchant(db: Any) -> Merchant:
    return MerchantFactory(name="Demo Coffee", slug="demo-coffee")


@pytest.fixture
def other_merchant(db: Any) -> Merchant:
    return MerchantFactory(name="Other Bakery", slug="other-bakery")


def _member(merchant: Merchant, role: str, username: str) -> Any:
    user = UserFactory(username=username)
    MembershipFactory(user=user, merchant=merchant, role=role)
    return user


@pytest.fixture
def owner(merchant: Merchant) -> Any:
    return _member(merchant, Role.OWNER, "owner")


@pytest.fixture
def admin_user(merchant: Merchant) -> Any:
    return _member(merchant, Role.ADMIN, "admin")


@pytest.fixture
def staff(merchant: Merchant) -> Any:
    return _member(merchant, Role.STAFF, "staff")


@pytest.fixture
def outsider(other_merchant: Merchant) -> Any:
    """The owner of another merchant: must never see this merchant's data."""
    return _member(other_merchant, Role.OWNER, "outsider")


def _client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner: Any) -> Client:
    return _client_for(owner)


@pytest.fixture
def admin_client_(admin_user: Any) -> Client:
    return _client_for(admin_user)


@pytest.fixture
def staff_client(staff: Any) -> Client:
    return _client_for(staff)


@pytest.fixture
def outsider_client(outsider: Any) -> Client:
    return _client_for(outsider)


@pytest.fixture
def stamp_program(merchant: Merchant) -> Program:
    return StampProgramFactory(merchant=merchant)


@pytest.fixture
def cashback_program(merchant: Merchant) -> Program:
    return CashbackProgramFactory(merchant=merchant)


@pytest.fixture
def stamp_card(stamp_program: Program) -> Card:
    return issue_card(stamp_program)


@pytest.fixture
def cashback_card(cashback_program: Program) -> Card:
    return issue_card(cashback_program)


@pytest.fixture
def world(
    merchant, owner, admin_user, staff, stamp_card, settings, tmp_path, tmp_path_factory
) -> dict[str, Any]:
    """One object of each kind that a URL can name, all belonging to ``merchant``: the permission
    matrix and the translated-pages test walk every URL with it."""
    settings.MEDIA_ROOT = tmp_path
    # Both wallets on, with test credentials generated once per session (not per test).
    settings.WALLET_TEST_CREDENTIALS = True
    settings.DATA_DIR = tmp_path_factory.getbasetemp() / "world-data"
    return _world_of(stamp_card, owner=owner, staff=staff, token="world-invitation-token")


@pytest.fixture
def other_world(other_merchant, outsider, settings, tmp_path) -> dict[str, Any]:
    """The same objects for ``other_merchant`` (whose owner is ``outsider``), with names of
    their own, so a test can tell when one of them shows up on this merchant's pages."""
    settings.MEDIA_ROOT = tmp_path
    program = StampProgramFactory(merchant=other_merchant, name="Bakery Stamp Card")
    customer = CustomerFactory(
        merchant=other_merchant, first_name="Bernadette", last_name="Bakerloo"
    )
    staff = _member(other_merchant, Role.STAFF, "other-staff")
    return _world_of(
        issue_card(program, customer),
        owner=outsider,
        staff=staff,
        token="other-invitation-token",
        question="Favourite cake",
    )


# The routes of one import (their ``pk`` is the world's import job).
IMPORT_ROUTES = (
    "customers:import_job",
    "customers:import_mapping",
    "customers:import_apply",
    "customers:import_discard",
    "customers:import_problems",
)


def _world_of(
    card: Card, *, owner: Any, staff: Any, token: str, question: str = "Favourite coffee"
) -> dict[str, Any]:
    program = card.program
    merchant = program.merchant
    program.logo.save("logo.png", ContentFile(_png()), save=True)
    field = CustomField.objects.create(program=program, key="coffee", label=question)
    invitation = Invitation.objects.create(
        merchant=merchant,
        email="new@example.com",
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        invited_by=owner,
        sent_at=timezone.now(),
        expires_at=timezone.now() + datetime.timedelta(days=7),
    )
    message = PushMessage.objects.create(
        merchant=merchant,
        card=card,
        body="Free croissant today",
        send_at=timezone.now() + datetime.timedelta(days=1),
        scheduled=True,
    )
    membership = Membership.objects.get(user=staff, merchant=merchant)
    campaign = Campaign.objects.create(
        merchant=merchant,
        program=program,
        body="Double stamps this weekend",
        send_at=timezone.now() + datetime.timedelta(days=1),
        scheduled=True,
    )
    # A file uploaded and checked, waiting to be applied.
    upload = ContentFile(b"First name,Email\nAda,ada@example.com\nBob,not-an-email\n")
    job = import_services.import_upload(
        merchant=merchant,
        program=program,
        file=upload,
        name="old.csv",
        size=upload.size,
        actor=owner,
    )
    job = import_services.import_map(job=job, mapping=job.mapping, actor=owner)
    # An entry staff wrote just now: one they, and the managers, may reverse.
    entry = card_services.card_add_stamps(card=card, value=2, actor=staff).entries[0]
    return {
        "serial": card.serial,
        "action": "stamps_add",
        "install_token": card.install_token,
        "referral_token": card.referral_token,
        "join_token": program.join_token,
        # The link of the pending invitation (only its hash is stored).
        "token": token,
        "size": 192,
        "message_id": message.pk,
        "field_pk": field.pk,
        "entry_id": entry.pk,
        "pk": {
            "customers:remove": card.customer_id,
            "settings:invitation_resend": invitation.pk,
            "settings:invitation_revoke": invitation.pk,
            "settings:member_role": membership.pk,
            "settings:member_remove": membership.pk,
            "campaigns:detail": campaign.pk,
            "campaigns:edit": campaign.pk,
            "campaigns:cancel": campaign.pk,
            **dict.fromkeys(IMPORT_ROUTES, job.pk),
        },
        "program_pk": program.pk,
        "language": "es",
        # Apple Wallet's web service names a device and the instance's pass type.
        "device_id": "matrix-device",
        "pass_type_id": TEST_PASS_TYPE_ID,
        # An uploaded file under MEDIA_URL: the program's logo.
        "path": program.logo.name,
        # The objects themselves, for tests that prepare or inspect them.
        "merchant": merchant,
        "program": program,
        "card": card,
        "customer": card.customer,
        "field": field,
        "invitation": invitation,
        "message": message,
        "membership": membership,
        "campaign": campaign,
        "import_job": job,
        "entry": entry,
    }


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(buffer, format="PNG")
    return buffer.getvalue()
