"""The counter's guards in the program settings: the double-scan guard, the daily caps per card
and how long staff may reverse their own entries."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from cards import services
from cards.models import Program, ProgramKind
from cards.services import ProgramSpec, TierSpec
from loyalty.models import AuditAction, AuditEvent
from tests.factories import stamp_program_form

pytestmark = pytest.mark.django_db

SETTINGS = ("repeat_guard_seconds", "daily_earn_cap", "daily_purchase_cap", "staff_reverse_minutes")


def create_url() -> str:
    return reverse("settings:program_create")


def edit_url(program: Program) -> str:
    return reverse("settings:program_edit", args=[program.pk])


def _text(value: int | None) -> str:
    return "" if value is None else str(value)


def edit_post(program: Program, **overrides: str) -> dict[str, str]:
    """The edit page's form for ``program`` sent back unchanged, then ``overrides``."""
    counter = {name: _text(getattr(program, name)) for name in SETTINGS}
    return stamp_program_form(
        **{"name": program.name, "referral_bonus": "2", **counter, **overrides}
    )


def counter_settings(program: Program) -> tuple[int | None, ...]:
    program.refresh_from_db()
    return tuple(getattr(program, name) for name in SETTINGS)


def stamp_spec(**overrides: Any) -> ProgramSpec:
    values: dict[str, Any] = {
        "name": "Coffee card",
        "kind": ProgramKind.STAMP,
        "mechanism": "spend",
        "spend_per_stamp": Decimal("10"),
    }
    return ProgramSpec(**{**values, **overrides})


def spec_of(program: Program, **overrides: Any) -> ProgramSpec:
    """What a caller that knows nothing of the counter's guards sends for ``program``."""
    values: dict[str, Any] = {
        "name": program.name,
        "kind": program.kind,
        "mechanism": program.mechanism,
        "spend_per_stamp": program.spend_per_stamp,
        "stamps_per_reward": program.stamps_per_reward,
        "tiers": tuple(
            TierSpec(name=t.name, threshold=t.threshold, percentage=t.percentage)
            for t in program.tiers.all()
        ),
        "referral_bonus": program.referral_bonus,
        "welcome_bonus": program.welcome_bonus,
    }
    return ProgramSpec(**{**values, **overrides})


def input_tag(body: str, name: str) -> str:
    """The ``<input>`` tag of the field ``name`` as rendered."""
    at = body.index(f'name="{name}"')
    return body[body.rindex("<input", 0, at) : body.index(">", at) + 1]


# ---------------------------------------------------------------------------------------------
# Defaults


def test_a_program_created_through_the_page_asks_within_60_s_lets_staff_reverse_15_min_no_caps(
    owner_client: Client, merchant
) -> None:
    page = owner_client.get(create_url() + "?kind=stamp").content.decode()
    assert 'value="60"' in input_tag(page, "repeat_guard_seconds")
    assert 'value="15"' in input_tag(page, "staff_reverse_minutes")
    assert "value=" not in input_tag(page, "daily_earn_cap")
    assert "value=" not in input_tag(page, "daily_purchase_cap")

    # The browser sends the fields as the page filled them.
    data = stamp_program_form(
        repeat_guard_seconds="60",
        staff_reverse_minutes="15",
        daily_earn_cap="",
        daily_purchase_cap="",
    )
    assert owner_client.post(create_url(), data).status_code == 302
    assert counter_settings(Program.objects.get(merchant=merchant)) == (60, None, None, 15)


def test_a_form_without_the_counter_fields_creates_a_program_with_the_defaults(
    owner_client: Client, merchant
) -> None:
    assert owner_client.post(create_url(), stamp_program_form()).status_code == 302
    assert counter_settings(Program.objects.get(merchant=merchant)) == (60, None, None, 15)


def test_a_spec_without_the_counter_settings_creates_a_program_with_the_defaults(
    merchant,
) -> None:
    program = services.program_create(merchant=merchant, spec=stamp_spec(), actor=None)
    assert counter_settings(program) == (60, None, None, 15)


# ---------------------------------------------------------------------------------------------
# The page shows them


def test_the_settings_sit_together_under_at_the_counter_with_words_a_merchant_understands(
    owner_client: Client, stamp_program
) -> None:
    body = owner_client.get(edit_url(stamp_program)).content.decode()
    fieldset = body[body.index("<fieldset data-counter-settings>") :]
    fieldset = fieldset[: fieldset.index("</fieldset>")]
    assert "<legend>At the counter</legend>" in fieldset
    for label in (
        "Ask before applying the same action twice within (seconds)",
        "Most stamps or points a card can earn per day (empty: no cap)",
        "Most purchases per card per day (empty: no cap)",
        "Staff may reverse their own entries for (minutes)",
    ):
        assert label in fieldset
    for name in SETTINGS:
        assert f'name="{name}"' in fieldset
        assert f'aria-describedby="id_{name}_helptext"' in input_tag(fieldset, name)
    assert "0 never asks." in fieldset
    assert "Owners and admins may reverse any entry at any time." in fieldset


def test_the_edit_page_shows_the_saved_settings(owner_client: Client, stamp_program) -> None:
    stamp_program.repeat_guard_seconds = 90
    stamp_program.daily_earn_cap = 12
    stamp_program.daily_purchase_cap = 3
    stamp_program.staff_reverse_minutes = 30
    stamp_program.save()
    body = owner_client.get(edit_url(stamp_program)).content.decode()
    for name, value in zip(SETTINGS, ("90", "12", "3", "30"), strict=True):
        assert f'value="{value}"' in input_tag(body, name)


# ---------------------------------------------------------------------------------------------
# Setting and clearing


@pytest.mark.parametrize(
    ("name", "typed", "saved"),
    [
        ("repeat_guard_seconds", "120", 120),
        ("repeat_guard_seconds", "0", 0),
        ("repeat_guard_seconds", "3600", 3600),
        ("daily_earn_cap", "1", 1),
        ("daily_earn_cap", "20", 20),
        ("daily_purchase_cap", "2", 2),
        ("daily_purchase_cap", "1000", 1000),
        ("staff_reverse_minutes", "0", 0),
        ("staff_reverse_minutes", "1440", 1440),
    ],
)
def test_the_create_page_sets_each_counter_setting(
    owner_client: Client, merchant, name, typed, saved
) -> None:
    response = owner_client.post(create_url(), stamp_program_form(**{name: typed}))
    assert response.status_code == 302
    assert getattr(Program.objects.get(merchant=merchant), name) == saved


@pytest.mark.parametrize(
    ("name", "typed", "saved"),
    [
        ("repeat_guard_seconds", "45", 45),
        ("daily_earn_cap", "8", 8),
        ("daily_purchase_cap", "2", 2),
        ("staff_reverse_minutes", "60", 60),
    ],
)
def test_the_edit_page_sets_each_counter_setting_and_the_audit_names_it(
    owner_client: Client, stamp_program, owner, name, typed, saved
) -> None:
    label = {
        "repeat_guard_seconds": "double-scan guard",
        "daily_earn_cap": "daily cap on stamps or points",
        "daily_purchase_cap": "daily cap on purchases",
        "staff_reverse_minutes": "time staff may reverse their entries",
    }[name]
    response = owner_client.post(edit_url(stamp_program), edit_post(stamp_program, **{name: typed}))
    assert response.status_code == 302
    stamp_program.refresh_from_db()
    assert getattr(stamp_program, name) == saved
    event = AuditEvent.objects.get()
    assert (event.action, event.actor) == (AuditAction.PROGRAM_UPDATED, owner)
    assert event.summary == f"Changed the {label} of {stamp_program.name}"
    assert event.details["changed"] == [name]


def test_emptying_a_daily_cap_on_the_edit_page_removes_it(
    owner_client: Client, stamp_program
) -> None:
    stamp_program.daily_earn_cap = 10
    stamp_program.daily_purchase_cap = 2
    stamp_program.save()
    data = edit_post(stamp_program, daily_earn_cap="", daily_purchase_cap="")
    assert owner_client.post(edit_url(stamp_program), data).status_code == 302
    assert counter_settings(stamp_program)[1:3] == (None, None)
    assert AuditEvent.objects.get().details["changed"] == ["daily_earn_cap", "daily_purchase_cap"]


def test_0_on_the_edit_page_turns_off_the_double_scan_guard_and_staff_reversals(
    owner_client: Client, stamp_program
) -> None:
    stamp_program.repeat_guard_seconds = 60
    stamp_program.save()
    data = edit_post(stamp_program, repeat_guard_seconds="0", staff_reverse_minutes="0")
    assert owner_client.post(edit_url(stamp_program), data).status_code == 302
    assert counter_settings(stamp_program) == (0, None, None, 0)


def test_an_emptied_guard_or_reversal_window_keeps_the_saved_one(
    owner_client: Client, stamp_program
) -> None:
    # As the referral cap does: a blank number is no instruction to change it.
    stamp_program.repeat_guard_seconds = 90
    stamp_program.staff_reverse_minutes = 30
    stamp_program.save()
    data = edit_post(stamp_program, repeat_guard_seconds="", staff_reverse_minutes="")
    assert owner_client.post(edit_url(stamp_program), data).status_code == 302
    assert counter_settings(stamp_program) == (90, None, None, 30)
    assert not AuditEvent.objects.exists()


def test_a_cashback_program_caps_the_points_a_card_earns(
    owner_client: Client, cashback_program
) -> None:
    data = stamp_program_form(
        name=cashback_program.name,
        kind="cashback",
        spend_per_stamp="",
        referral_bonus="5",
        daily_earn_cap="25",
        **{
            "tiers-TOTAL_FORMS": "3",
            "tiers-INITIAL_FORMS": "3",
            "tiers-0-name": "Bronze",
            "tiers-0-threshold": "0",
            "tiers-0-percentage": "5",
            "tiers-1-name": "Silver",
            "tiers-1-threshold": "500",
            "tiers-1-percentage": "7",
            "tiers-2-name": "Gold",
            "tiers-2-threshold": "1000",
            "tiers-2-percentage": "10",
        },
    )
    assert owner_client.post(edit_url(cashback_program), data).status_code == 302
    cashback_program.refresh_from_db()
    assert cashback_program.daily_earn_cap == 25
    assert AuditEvent.objects.get().details["changed"] == ["daily_earn_cap"]


# ---------------------------------------------------------------------------------------------
# Refusals


REFUSALS = [
    ("repeat_guard_seconds", "-1", "Enter between 0 and 3,600 seconds (0 never asks)."),
    ("repeat_guard_seconds", "3601", "Enter between 0 and 3,600 seconds (0 never asks)."),
    ("repeat_guard_seconds", "a minute", "Enter a whole number."),
    ("repeat_guard_seconds", "1.5", "Enter a whole number."),
    (
        "daily_earn_cap",
        "0",
        "Enter between 1 and 1,000,000 stamps or points a day, or leave the field empty for no "
        "cap.",
    ),
    (
        "daily_earn_cap",
        "1000001",
        "Enter between 1 and 1,000,000 stamps or points a day, or leave the field empty for no "
        "cap.",
    ),
    ("daily_earn_cap", "ten", "Enter a whole number."),
    (
        "daily_purchase_cap",
        "0",
        "Enter between 1 and 1,000 purchases a day, or leave the field empty for no cap.",
    ),
    (
        "daily_purchase_cap",
        "-2",
        "Enter between 1 and 1,000 purchases a day, or leave the field empty for no cap.",
    ),
    (
        "daily_purchase_cap",
        "9" * 40,
        "Enter between 1 and 1,000 purchases a day, or leave the field empty for no cap.",
    ),
    ("daily_purchase_cap", "2.5", "Enter a whole number."),
    (
        "staff_reverse_minutes",
        "-5",
        "Enter between 0 and 1,440 minutes (0: staff cannot reverse entries).",
    ),
    (
        "staff_reverse_minutes",
        "1441",
        "Enter between 0 and 1,440 minutes (0: staff cannot reverse entries).",
    ),
    ("staff_reverse_minutes", "quarter hour", "Enter a whole number."),
]


@pytest.mark.parametrize(("name", "typed", "message"), REFUSALS)
def test_the_create_page_refuses_an_impossible_setting_next_to_the_field_and_saves_nothing(
    owner_client: Client, merchant, name, typed, message
) -> None:
    response = owner_client.post(create_url(), stamp_program_form(**{name: typed}))
    body = response.content.decode()
    assert response.status_code == 422
    assert "nothing was saved" in body
    # The message sits between the field and its help text, and the field is marked.
    field_at = body.index(f'name="{name}"')
    help_at = body.index(f'id="id_{name}_helptext"')
    assert field_at < body.index(message, field_at) < help_at
    assert 'aria-invalid="true"' in input_tag(body, name)
    assert not Program.objects.filter(merchant=merchant).exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(("name", "typed", "message"), REFUSALS)
def test_the_edit_page_refuses_an_impossible_setting_and_changes_nothing(
    owner_client: Client, stamp_program, name, typed, message
) -> None:
    stamp_program.repeat_guard_seconds = 60
    stamp_program.daily_earn_cap = 10
    stamp_program.daily_purchase_cap = 2
    stamp_program.save()
    # Another change in the same post is not saved either.
    data = edit_post(stamp_program, stamps_per_reward="8", **{name: typed})
    response = owner_client.post(edit_url(stamp_program), data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert counter_settings(stamp_program) == (60, 10, 2, 15)
    assert stamp_program.stamps_per_reward == 10
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"repeat_guard_seconds": -1}, "repeat_guard_seconds"),
        ({"repeat_guard_seconds": 3601}, "repeat_guard_seconds"),
        ({"daily_earn_cap": 0}, "daily_earn_cap"),
        ({"daily_purchase_cap": 1001}, "daily_purchase_cap"),
        ({"staff_reverse_minutes": 1441}, "staff_reverse_minutes"),
    ],
)
def test_the_service_refuses_the_same_values_whoever_calls_it(
    merchant, stamp_program, owner, overrides, field
) -> None:
    with pytest.raises(ValidationError) as caught:
        services.program_create(merchant=merchant, spec=stamp_spec(**overrides), actor=owner)
    assert list(caught.value.message_dict) == [field]
    with pytest.raises(ValidationError) as caught:
        services.program_update(
            program=stamp_program, spec=spec_of(stamp_program, **overrides), actor=owner
        )
    assert list(caught.value.message_dict) == [field]
    assert Program.objects.filter(merchant=merchant).count() == 1
    assert not AuditEvent.objects.exists()


# ---------------------------------------------------------------------------------------------
# Callers that know nothing of the guards


def test_a_spec_without_the_counter_settings_keeps_the_saved_ones(stamp_program, owner) -> None:
    stamp_program.repeat_guard_seconds = 120
    stamp_program.daily_earn_cap = 6
    stamp_program.daily_purchase_cap = 2
    stamp_program.staff_reverse_minutes = 5
    stamp_program.save()
    spec = spec_of(stamp_program, stamps_per_reward=8)
    services.program_update(program=stamp_program, spec=spec, actor=owner)
    assert counter_settings(stamp_program) == (120, 6, 2, 5)
    assert AuditEvent.objects.get().details["changed"] == ["stamps_per_reward"]


def test_a_spec_clears_a_cap_with_none(stamp_program, owner) -> None:
    stamp_program.daily_earn_cap = 6
    stamp_program.save()
    spec = spec_of(stamp_program, daily_earn_cap=None)
    services.program_update(program=stamp_program, spec=spec, actor=owner)
    assert counter_settings(stamp_program)[1] is None
    assert AuditEvent.objects.get().summary == (
        f"Changed the daily cap on stamps or points of {stamp_program.name}"
    )
