"""Creating and editing programs: every rule validated, history never rewritten."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from cards import services
from cards.models import Card, LedgerEntry, Program, ProgramKind, Tier
from cards.selectors import ledger_differences
from cards.services import ProgramSpec, TierSpec
from loyalty.models import AuditAction, AuditEvent, UserPreference
from tests.factories import CashbackProgramFactory, StampProgramFactory, issue_card

pytestmark = pytest.mark.django_db


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (8, 8), (91, 58, 41, 255)).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png()


def stamp_spec(**overrides: Any) -> ProgramSpec:
    values: dict[str, Any] = {
        "name": "Coffee card",
        "kind": ProgramKind.STAMP,
        "mechanism": "spend",
        "spend_per_stamp": Decimal("10"),
        "stamps_per_reward": 10,
        "referral_bonus": Decimal("2"),
        "welcome_bonus": Decimal("0"),
    }
    return ProgramSpec(**{**values, **overrides})


def tiers(*rows: tuple[str, str | None, str | None]) -> tuple[TierSpec, ...]:
    return tuple(
        TierSpec(
            name=name,
            threshold=None if threshold is None else Decimal(threshold),
            percentage=None if percentage is None else Decimal(percentage),
        )
        for name, threshold, percentage in rows
    )


THREE_TIERS = tiers(("Bronze", "0", "5"), ("Silver", "500", "7"), ("Gold", "1000", "10"))


def cashback_spec(**overrides: Any) -> ProgramSpec:
    values: dict[str, Any] = {
        "name": "Cashback club",
        "kind": ProgramKind.CASHBACK,
        "tiers": THREE_TIERS,
        "referral_bonus": Decimal("5.50"),
    }
    return ProgramSpec(**{**values, **overrides})


def errors_of(merchant: Any, spec: ProgramSpec, program: Program | None = None) -> dict:
    if program is None:
        with pytest.raises(ValidationError) as caught:
            services.program_create(merchant=merchant, spec=spec, actor=None)
    else:
        with pytest.raises(ValidationError) as caught:
            services.program_update(program=program, spec=spec, actor=None)
    return caught.value.message_dict


# ---------------------------------------------------------------------------------------------
# Creating


def test_a_stamp_program_is_created_with_its_rules_and_an_audit_event(merchant, owner) -> None:
    program = services.program_create(merchant=merchant, spec=stamp_spec(), actor=owner)
    program.refresh_from_db()
    assert (program.kind, program.mechanism, program.spend_per_stamp) == (
        "stamp",
        "spend",
        Decimal("10.00"),
    )
    assert program.referral_bonus == Decimal("2.00")
    assert program.tiers.count() == 0
    event = AuditEvent.objects.get(merchant=merchant)
    assert event.action == AuditAction.PROGRAM_CREATED
    assert event.actor == owner
    assert "Coffee card" in event.summary


def test_a_cashback_program_keeps_its_tiers_in_order(merchant, owner) -> None:
    program = services.program_create(merchant=merchant, spec=cashback_spec(), actor=owner)
    rows = list(program.tiers.values_list("name", "threshold", "percentage"))
    assert rows == [
        ("Bronze", Decimal("0.00"), Decimal("5.00")),
        ("Silver", Decimal("500.00"), Decimal("7.00")),
        ("Gold", Decimal("1000.00"), Decimal("10.00")),
    ]
    # Stamp rules do not linger on a cashback program.
    assert program.mechanism == ""
    assert program.spend_per_stamp is None


def test_a_visit_program_needs_no_spend_per_stamp(merchant) -> None:
    spec = stamp_spec(mechanism="visit", spend_per_stamp=None, stamps_per_visit=2)
    program = services.program_create(merchant=merchant, spec=spec, actor=None)
    assert (program.mechanism, program.stamps_per_visit, program.spend_per_stamp) == (
        "visit",
        2,
        None,
    )


# ---------------------------------------------------------------------------------------------
# Validation of every field


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": "  "}, "name", "Enter a name for the program"),
        ({"name": "x" * 121}, "name", "under 120 characters"),
        ({"kind": "points"}, "kind", "Choose a stamp card or a cashback card"),
        ({"mechanism": "magic"}, "mechanism", "Choose how stamps are earned"),
        ({"spend_per_stamp": None}, "spend_per_stamp", "Enter the amount a customer spends"),
        ({"spend_per_stamp": Decimal("0")}, "spend_per_stamp", "must be at least $0.01"),
        ({"spend_per_stamp": Decimal("2.555")}, "spend_per_stamp", "at most 2 decimal places"),
        ({"spend_per_stamp": Decimal("2000000")}, "spend_per_stamp", "can be at most"),
        (
            {"mechanism": "visit", "stamps_per_visit": None},
            "stamps_per_visit",
            "Enter how many stamps a visit earns",
        ),
        ({"mechanism": "visit", "stamps_per_visit": 0}, "stamps_per_visit", "1 to 100 stamps"),
        ({"stamps_per_reward": None}, "stamps_per_reward", "how many stamps make a reward"),
        ({"stamps_per_reward": 0}, "stamps_per_reward", "1 to 100 stamps"),
        ({"stamps_per_reward": 101}, "stamps_per_reward", "1 to 100 stamps"),
        ({"referral_bonus": Decimal("1.5")}, "referral_bonus", "whole number of stamps"),
        ({"welcome_bonus": Decimal("-1")}, "welcome_bonus", "cannot be negative"),
        ({"welcome_bonus": Decimal("5000")}, "welcome_bonus", "at most 1000 stamps"),
        ({"validity": "forever"}, "validity", "Choose how long new cards stay valid"),
        ({"validity": "fixed_date"}, "valid_until", "Enter the date the cards expire"),
        (
            {"validity": "fixed_date", "valid_until": datetime.date(2000, 1, 1)},
            "valid_until",
            "from today on",
        ),
        ({"validity": "days"}, "valid_days", "after how many days"),
        ({"validity": "days", "valid_days": 0}, "valid_days", "between 1 and 3650 days"),
        ({"validity": "days", "valid_days": 4000}, "valid_days", "between 1 and 3650 days"),
        ({"background_color": "brown"}, "background_color", "as #rrggbb"),
        ({"foreground_color": "#fff"}, "foreground_color", "as #rrggbb"),
        (
            {"background_color": "#777777", "foreground_color": "#888888"},
            "foreground_color",
            "too close to the background",
        ),
    ],
)
def test_every_stamp_program_field_is_validated_with_a_clear_message(
    merchant, overrides, field, message
) -> None:
    errors = errors_of(merchant, stamp_spec(**overrides))
    assert any(message in text for text in errors[field]), errors
    assert not Program.objects.filter(merchant=merchant).exists()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ((), "Add at least one tier"),
        (tiers(("Bronze", "10", "5")), "Tier 1 must start at a threshold of 0"),
        (
            tiers(("Bronze", "0", "5"), ("Silver", "500", "7"), ("Gold", "400", "10")),
            "Tier 3: the threshold ($400.00) must be higher than the tier before it ($500.00)",
        ),
        (
            tiers(("Bronze", "0", "5"), ("Silver", "0", "7")),
            "Tier 2: the threshold ($0.00) must be higher",
        ),
        (tiers(("Bronze", "0", "100.01")), "between 0 and 100"),
        (tiers(("Bronze", "0", "-1")), "between 0 and 100"),
        (tiers(("Bronze", "0", "5.555")), "at most 2 decimal places in the percentage"),
        (tiers(("Bronze", "0.001", "5")), "at most 2 decimal places in the threshold"),
        (tiers(("", "0", "5")), "Tier 1: enter a name"),
        (tiers(("Bronze", "0", "5"), ("bronze", "10", "6")), "already called bronze"),
        (tiers(("Bronze", None, "5")), "Tier 1: enter the spend threshold"),
        (tiers(("Bronze", "0", None)), "Tier 1: enter the cashback percentage"),
        (tuple(tiers(*[(f"T{i}", str(i * 10), "1") for i in range(11)])), "at most 10 tiers"),
    ],
)
def test_tiers_increase_from_zero_with_percentages_of_0_to_100(merchant, rows, message) -> None:
    errors = errors_of(merchant, cashback_spec(tiers=rows))
    assert any(message in text for text in errors["tiers"]), errors["tiers"]


def test_cashback_bonuses_are_points_with_two_decimals(merchant) -> None:
    errors = errors_of(merchant, cashback_spec(welcome_bonus=Decimal("1.005")))
    assert "at most 2 decimal places" in errors["welcome_bonus"][0]
    program = services.program_create(
        merchant=merchant, spec=cashback_spec(welcome_bonus=Decimal("2.50")), actor=None
    )
    assert program.welcome_bonus == Decimal("2.50")


def test_a_percentage_may_be_0_or_100_and_have_two_decimals(merchant) -> None:
    rows = tiers(("Free", "0", "0"), ("Half", "100", "12.75"), ("All", "200", "100"))
    program = services.program_create(merchant=merchant, spec=cashback_spec(tiers=rows), actor=None)
    assert list(program.tiers.values_list("percentage", flat=True)) == [
        Decimal("0.00"),
        Decimal("12.75"),
        Decimal("100.00"),
    ]


def test_every_error_is_reported_at_once(merchant) -> None:
    errors = errors_of(merchant, stamp_spec(name="", spend_per_stamp=None, background_color="nope"))
    assert set(errors) >= {"name", "spend_per_stamp", "background_color"}


def test_two_active_programs_cannot_share_a_name(merchant, other_merchant) -> None:
    services.program_create(merchant=merchant, spec=stamp_spec(), actor=None)
    errors = errors_of(merchant, stamp_spec(name="coffee CARD"))
    assert "You already have a program called coffee CARD." in errors["name"]
    # Another merchant may use the same name.
    services.program_create(merchant=other_merchant, spec=stamp_spec(), actor=None)


def test_validity_fields_of_the_unchosen_option_are_cleared(merchant) -> None:
    spec = stamp_spec(validity="days", valid_days=30, valid_until=datetime.date(2031, 1, 1))
    program = services.program_create(merchant=merchant, spec=spec, actor=None)
    assert (program.valid_days, program.valid_until) == (30, None)
    card = issue_card(program)
    assert card.expires_on == timezone.localdate() + datetime.timedelta(days=30)


# ---------------------------------------------------------------------------------------------
# Editing: the kind, and history that never changes


def _spec_of(program: Program, **overrides: Any) -> ProgramSpec:
    values = {
        "name": program.name,
        "kind": program.kind,
        "mechanism": program.mechanism,
        "spend_per_stamp": program.spend_per_stamp,
        "stamps_per_visit": program.stamps_per_visit,
        "stamps_per_reward": program.stamps_per_reward,
        "tiers": tuple(
            TierSpec(name=t.name, threshold=t.threshold, percentage=t.percentage)
            for t in program.tiers.all()
        ),
        "referral_bonus": program.referral_bonus,
        "welcome_bonus": program.welcome_bonus,
    }
    return ProgramSpec(**{**values, **overrides})


def test_a_program_with_issued_cards_cannot_change_its_kind(stamp_program, owner) -> None:
    issue_card(stamp_program)
    spec = _spec_of(stamp_program, kind=ProgramKind.CASHBACK, tiers=THREE_TIERS)
    errors = errors_of(stamp_program.merchant, spec, program=stamp_program)
    assert "This program has issued cards, so it stays a stamp card." in errors["kind"][0]
    stamp_program.refresh_from_db()
    assert stamp_program.kind == ProgramKind.STAMP


def test_a_program_without_cards_may_change_its_kind(stamp_program, owner) -> None:
    spec = _spec_of(stamp_program, kind=ProgramKind.CASHBACK, tiers=THREE_TIERS)
    services.program_update(program=stamp_program, spec=spec, actor=owner)
    stamp_program.refresh_from_db()
    assert stamp_program.kind == ProgramKind.CASHBACK
    assert stamp_program.tiers.count() == 3


def test_a_rule_change_applies_to_later_entries_only(stamp_program, owner, staff) -> None:
    card = issue_card(stamp_program)
    first = services.card_add_transaction_amount(card=card, value="95", actor=staff).entries[0]
    assert first.stamps_delta == 9
    spec = _spec_of(stamp_program, spend_per_stamp=Decimal("5"), stamps_per_reward=20)
    services.program_update(program=stamp_program, spec=spec, actor=owner)

    # The old entry keeps its stamps, and so does the card.
    first.refresh_from_db()
    card.refresh_from_db()
    assert first.stamps_delta == 9
    assert (card.stamps_balance, card.stamps_earned, card.rewards_available) == (9, 9, 0)
    # The next purchase earns by the new rule: 20 / 5 = 4 stamps, a reward at 20.
    services.card_add_transaction_amount(card=card, value="20", actor=staff)
    card.refresh_from_db()
    assert (card.stamps_earned, card.stamps_balance, card.rewards_available) == (13, 13, 0)
    assert ledger_differences(card, card.entries.order_by("created_at", "id")) == []
    event = AuditEvent.objects.filter(action=AuditAction.PROGRAM_UPDATED).get()
    assert "spend per stamp" in event.summary
    assert "stamps per reward" in event.summary


def test_changing_tiers_keeps_the_points_and_tier_of_past_entries(
    cashback_program, owner, staff
) -> None:
    card = issue_card(cashback_program)
    services.card_add_transaction_amount(card=card, value="600", actor=staff)
    card.refresh_from_db()
    before = list(card.entries.values_list("kind", "points_delta", "tier_name"))
    assert (card.points_balance, card.tier_name) == (Decimal("30.00"), "Silver")

    new_tiers = tiers(("Starter", "0", "2"), ("Plus", "300", "3"), ("Max", "2000", "4"))
    services.program_update(
        program=cashback_program, spec=_spec_of(cashback_program, tiers=new_tiers), actor=owner
    )

    card.refresh_from_db()
    assert list(card.entries.values_list("kind", "points_delta", "tier_name")) == before
    assert (card.points_balance, card.tier_name) == (Decimal("30.00"), "Silver")
    assert list(Tier.objects.filter(program=cashback_program).values_list("name", flat=True)) == [
        "Starter",
        "Plus",
        "Max",
    ]
    assert ledger_differences(card, card.entries.order_by("created_at", "id")) == []
    call_command("verify_ledger")


def test_an_unchanged_form_records_no_audit_event(stamp_program, owner) -> None:
    services.program_update(program=stamp_program, spec=_spec_of(stamp_program), actor=owner)
    assert not AuditEvent.objects.exists()


# ---------------------------------------------------------------------------------------------
# Archiving


def test_an_archived_program_issues_no_cards_but_its_cards_keep_working(
    stamp_program, owner, staff
) -> None:
    card = issue_card(stamp_program)
    services.program_archive(program=stamp_program, actor=owner)
    with pytest.raises(ValidationError, match="archived"):
        issue_card(stamp_program)
    services.card_add_transaction_amount(card=card, value="10", actor=staff)
    assert Card.objects.get(pk=card.pk).stamps_balance == 1
    services.program_restore(program=stamp_program, actor=owner)
    issue_card(stamp_program)
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == [AuditAction.PROGRAM_ARCHIVED, AuditAction.PROGRAM_RESTORED]


def test_restoring_is_refused_while_another_active_program_has_the_name(merchant, owner) -> None:
    old = StampProgramFactory(merchant=merchant, name="Coffee card")
    services.program_archive(program=old, actor=owner)
    services.program_create(merchant=merchant, spec=stamp_spec(), actor=owner)
    with pytest.raises(ValidationError, match="rename it first"):
        services.program_restore(program=old, actor=owner)


# ---------------------------------------------------------------------------------------------
# The logo


@pytest.fixture
def media(settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_a_png_logo_is_stored_under_a_random_name(merchant, media) -> None:
    logo = SimpleUploadedFile("../../evil name.png", PNG, content_type="image/png")
    program = services.program_create(merchant=merchant, spec=stamp_spec(), actor=None, logo=logo)
    assert program.logo.name.startswith("logos/")
    assert program.logo.name.endswith(".png")
    assert "evil" not in program.logo.name
    assert (media / program.logo.name).read_bytes() == PNG


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "PNG, JPEG"),
        (b"just text pretending", "PNG, JPEG"),
        (PNG[:40], "PNG, JPEG"),  # a PNG header on a broken image
        (b"", "empty"),
        (PNG + b"\x00" * (1024 * 1024), "the limit is 1 MB"),
    ],
)
def test_a_logo_must_be_an_image_of_at_most_1_mb(merchant, media, content, message) -> None:
    logo = SimpleUploadedFile("logo.png", content, content_type="image/png")
    with pytest.raises(ValidationError) as caught:
        services.program_create(merchant=merchant, spec=stamp_spec(), actor=None, logo=logo)
    assert message in caught.value.message_dict["logo"][0]
    assert not list(media.rglob("*.*"))


def test_replacing_and_removing_the_logo(
    stamp_program, owner, media, django_capture_on_commit_callbacks
) -> None:
    first = SimpleUploadedFile("a.png", PNG)
    with django_capture_on_commit_callbacks(execute=True):
        services.program_update(
            program=stamp_program, spec=_spec_of(stamp_program), actor=owner, logo=first
        )
    old_name = Program.objects.get(pk=stamp_program.pk).logo.name
    with django_capture_on_commit_callbacks(execute=True):
        services.program_update(
            program=stamp_program, spec=_spec_of(stamp_program), actor=owner, remove_logo=True
        )
    assert not Program.objects.get(pk=stamp_program.pk).logo
    assert not (media / old_name).exists()


def test_the_settings_page_shows_the_logo_through_the_app(
    owner_client: Client, stamp_program, owner, media
) -> None:
    logo = SimpleUploadedFile("logo.png", PNG)
    services.program_update(
        program=stamp_program, spec=_spec_of(stamp_program), actor=owner, logo=logo
    )
    page = owner_client.get(reverse("settings:program_edit", args=[stamp_program.pk]))
    logo_url = reverse("settings:program_logo", args=[stamp_program.pk])
    assert f'src="{logo_url}?v=' in page.content.decode()
    response = owner_client.get(logo_url)
    assert (response.status_code, response["Content-Type"]) == (200, "image/png")
    assert response.content == PNG


def test_a_program_without_a_logo_has_no_logo_url(owner_client: Client, stamp_program) -> None:
    url = reverse("settings:program_logo", args=[stamp_program.pk])
    assert owner_client.get(url).status_code == 404


# ---------------------------------------------------------------------------------------------
# The pages


def _program_post(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "Bean club",
        "kind": "cashback",
        "mechanism": "spend",
        "spend_per_stamp": "",
        "stamps_per_visit": "1",
        "stamps_per_reward": "10",
        "referral_bonus": "0",
        "welcome_bonus": "0",
        "validity": "none",
        "valid_until": "",
        "valid_days": "",
        "background_color": "#5b3a29",
        "foreground_color": "#ffffff",
        "tiers-TOTAL_FORMS": "4",
        "tiers-INITIAL_FORMS": "0",
        "tiers-MIN_NUM_FORMS": "0",
        "tiers-MAX_NUM_FORMS": "20",
        "tiers-0-name": "Bronze",
        "tiers-0-threshold": "0",
        "tiers-0-percentage": "5",
        "tiers-1-name": "Silver",
        "tiers-1-threshold": "500",
        "tiers-1-percentage": "7.5",
        "tiers-2-name": "Gold",
        "tiers-2-threshold": "1000",
        "tiers-2-percentage": "10",
        "tiers-3-name": "",
        "tiers-3-threshold": "",
        "tiers-3-percentage": "",
    }
    data.update(overrides)
    return data


def test_the_create_page_makes_a_cashback_program_and_skips_blank_tier_rows(
    owner_client: Client, merchant
) -> None:
    response = owner_client.post(reverse("settings:program_create"), _program_post())
    program = Program.objects.get(merchant=merchant)
    assert response.status_code == 302
    assert response["Location"] == reverse("settings:program_edit", args=[program.pk])
    assert list(program.tiers.values_list("name", "percentage")) == [
        ("Bronze", Decimal("5.00")),
        ("Silver", Decimal("7.50")),
        ("Gold", Decimal("10.00")),
    ]


def test_the_form_shows_each_error_next_to_its_field_and_saves_nothing(
    owner_client: Client, merchant
) -> None:
    data = _program_post(
        name="", welcome_bonus="lots", **{"tiers-2-threshold": "300", "tiers-1-percentage": "x"}
    )
    response = owner_client.post(reverse("settings:program_create"), data)
    assert response.status_code == 422
    body = response.content.decode()
    assert "Enter a name for the program" in body
    assert "Enter a number, for example 10 or 2.50." in body
    assert "Enter a percentage, for example 5 or 7.5." in body
    assert not Program.objects.exists()
    # Once the row errors are fixed, the service's tier rules speak.
    data = _program_post(**{"tiers-2-threshold": "300"})
    response = owner_client.post(reverse("settings:program_create"), data)
    assert response.status_code == 422
    assert "Tier 3: the threshold ($300.00) must be higher than the tier before it ($500.00)" in (
        response.content.decode()
    )
    assert not Program.objects.exists()


def test_a_spanish_manager_types_decimals_with_a_comma(
    owner_client: Client, owner, merchant
) -> None:
    UserPreference.objects.create(user=owner, language="es")
    data = _program_post(welcome_bonus="2,50", **{"tiers-1-percentage": "7,5"})
    response = owner_client.post(reverse("settings:program_create"), data)
    program = Program.objects.get(merchant=merchant)
    assert response.status_code == 302
    assert program.welcome_bonus == Decimal("2.50")
    assert program.tiers.get(name="Silver").percentage == Decimal("7.50")
    page = owner_client.get(reverse("settings:program_edit", args=[program.pk])).content.decode()
    assert 'value="7,50"' in page


def test_removing_a_tier_row_with_its_checkbox(owner_client: Client, cashback_program) -> None:
    url = reverse("settings:program_edit", args=[cashback_program.pk])
    data = _program_post(
        name=cashback_program.name,
        **{"tiers-INITIAL_FORMS": "3", "tiers-2-DELETE": "on"},
    )
    assert owner_client.post(url, data).status_code == 302
    assert list(cashback_program.tiers.values_list("name", flat=True)) == ["Bronze", "Silver"]


def test_the_edit_page_says_changes_apply_to_later_entries_and_shows_the_join_link(
    owner_client: Client, stamp_program, settings
) -> None:
    response = owner_client.get(reverse("settings:program_edit", args=[stamp_program.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Changes apply to later entries only." in body
    join_url = f"{settings.SITE_URL}/join/{stamp_program.join_token}/"
    assert f'value="{join_url}"' in body
    assert 'data-copy-target="#join-url"' in body
    assert f'src="/join/{stamp_program.join_token}/qr.svg"' in body


def test_the_kind_is_locked_on_the_page_once_cards_are_issued(
    owner_client: Client, stamp_program
) -> None:
    issue_card(stamp_program)
    url = reverse("settings:program_edit", args=[stamp_program.pk])
    body = owner_client.get(url).content.decode()
    assert "its kind cannot change" in body
    # A crafted post cannot change it either (the disabled field keeps its initial value).
    data = _program_post(name=stamp_program.name, kind="cashback", spend_per_stamp="10")
    owner_client.post(url, data)
    assert Program.objects.get(pk=stamp_program.pk).kind == "stamp"


def test_the_edit_page_runs_a_fixed_number_of_queries(
    owner_client: Client, cashback_program, django_assert_max_num_queries
) -> None:
    for _ in range(5):
        issue_card(cashback_program)
    url = reverse("settings:program_edit", args=[cashback_program.pk])
    with django_assert_max_num_queries(12):
        assert owner_client.get(url).status_code == 200


def test_the_program_list_runs_a_fixed_number_of_queries(
    owner_client: Client, merchant, django_assert_num_queries
) -> None:
    CashbackProgramFactory(merchant=merchant)
    url = reverse("settings:programs")
    owner_client.get(url)
    with CaptureQueriesContext(connection) as few:
        owner_client.get(url)
    for index in range(6):
        CashbackProgramFactory(merchant=merchant, name=f"Program {index}")
        StampProgramFactory(merchant=merchant, name=f"Stamps {index}")
    with django_assert_num_queries(len(few.captured_queries)):
        response = owner_client.get(url)
    assert response.content.decode().count("data-program=") == 13


def test_issuing_a_card_from_the_program_page_registers_the_customer(
    owner_client: Client, cashback_program
) -> None:
    url = reverse("settings:program_issue_card", args=[cashback_program.pk])
    response = owner_client.post(url, {"first_name": "Ada", "last_name": "Lovelace"})
    card = Card.objects.get(program=cashback_program)
    assert response.status_code == 302
    assert response["Location"] == card.get_absolute_url()
    assert card.holder_name == "Ada Lovelace"
    assert card.tier_name == "Bronze"
    assert LedgerEntry.objects.filter(card=card).count() == 1


def test_issuing_needs_a_first_name_and_a_valid_email(owner_client: Client, stamp_program) -> None:
    url = reverse("settings:program_issue_card", args=[stamp_program.pk])
    response = owner_client.post(url, {"first_name": "", "email": "nope"})
    assert response.status_code == 422
    assert "Enter the customer&#x27;s first name." in response.content.decode()
    assert "Enter a valid email address." in response.content.decode()
    assert not Card.objects.exists()


def test_an_archived_program_cannot_issue_from_its_page(
    owner_client: Client, stamp_program, owner
) -> None:
    services.program_archive(program=stamp_program, actor=owner)
    url = reverse("settings:program_issue_card", args=[stamp_program.pk])
    response = owner_client.post(url, {"first_name": "Ada"})
    assert response.status_code == 422
    assert "archived" in response.content.decode()
    assert not Card.objects.exists()
