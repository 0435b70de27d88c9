"""The cost of one reward: a stamp program's setting for the home page's reward cost and ROI."""

from __future__ import annotations

from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from cards import services
from cards.models import Program, ProgramKind
from cards.services import ProgramSpec, TierSpec
from loyalty.models import AuditAction, AuditEvent, UserPreference
from tests.factories import issue_card

pytestmark = pytest.mark.django_db

BRONZE = (TierSpec(name="Bronze", threshold=Decimal("0"), percentage=Decimal("5")),)


def stamp_spec(**overrides: Any) -> ProgramSpec:
    values: dict[str, Any] = {
        "name": "Coffee card",
        "kind": ProgramKind.STAMP,
        "mechanism": "spend",
        "spend_per_stamp": Decimal("10"),
        "stamps_per_reward": 10,
    }
    return ProgramSpec(**{**values, **overrides})


def spec_of(program: Program, **overrides: Any) -> ProgramSpec:
    """What the settings form sends back for ``program`` unchanged, then ``overrides``."""
    values: dict[str, Any] = {
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
        "reward_cost": program.reward_cost,
    }
    return ProgramSpec(**{**values, **overrides})


def stamp_post(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Coffee card",
        "kind": "stamp",
        "mechanism": "spend",
        "spend_per_stamp": "10",
        "stamps_per_visit": "1",
        "stamps_per_reward": "10",
        "reward_cost": "1.20",
        "referral_bonus": "0",
        "welcome_bonus": "0",
        "validity": "none",
        "background_color": "#5b3a29",
        "foreground_color": "#ffffff",
        "tiers-TOTAL_FORMS": "1",
        "tiers-INITIAL_FORMS": "0",
        "tiers-MIN_NUM_FORMS": "0",
        "tiers-MAX_NUM_FORMS": "20",
        "tiers-0-name": "",
        "tiers-0-threshold": "",
        "tiers-0-percentage": "",
    }
    data.update(overrides)
    return data


def cashback_post(**overrides: str) -> dict[str, str]:
    data = stamp_post(
        name="Cashback club",
        kind="cashback",
        spend_per_stamp="",
        **{
            "tiers-INITIAL_FORMS": "1",
            "tiers-0-name": "Bronze",
            "tiers-0-threshold": "0",
            "tiers-0-percentage": "5",
        },
    )
    data.update(overrides)
    return data


def edit_url(program: Program) -> str:
    return reverse("settings:program_edit", args=[program.pk])


class _ShownWhen(HTMLParser):
    """The ``data-show-when`` rules around the reward cost input (the script hides the rest)."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str | None] = []
        self.inputs: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in {"div", "fieldset"}:
            self.open.append(found.get("data-show-when"))
        elif tag == "input" and found.get("name") == "reward_cost":
            self.inputs.append([rule for rule in self.open if rule])

    def handle_endtag(self, tag: str) -> None:
        if tag in {"div", "fieldset"}:
            self.open.pop()


def reward_cost_rules(html: str) -> list[list[str]]:
    parser = _ShownWhen()
    parser.feed(html)
    return parser.inputs


# ---------------------------------------------------------------------------------------------
# The service


def test_a_new_stamp_program_costs_nothing_per_reward_unless_told(merchant) -> None:
    program = services.program_create(merchant=merchant, spec=stamp_spec(), actor=None)
    program.refresh_from_db()
    assert program.reward_cost == Decimal("0.00")


def test_the_cost_of_one_reward_is_saved_as_money(merchant) -> None:
    spec = stamp_spec(reward_cost=Decimal("1.2"))
    program = services.program_create(merchant=merchant, spec=spec, actor=None)
    program.refresh_from_db()
    assert program.reward_cost == Decimal("1.20")


def test_the_largest_cost_allowed_is_the_largest_amount(merchant) -> None:
    spec = stamp_spec(reward_cost=Decimal("1000000"))
    program = services.program_create(merchant=merchant, spec=spec, actor=None)
    assert Program.objects.get(pk=program.pk).reward_cost == Decimal("1000000.00")


@pytest.mark.parametrize(
    ("cost", "message"),
    [
        (
            "-0.01",
            "The cost of one reward cannot be negative. Enter 0 if you do not want to count it.",
        ),
        ("1.205", "The cost of one reward: use at most 2 decimal places."),
        ("1000000.01", "The cost of one reward can be at most $1,000,000.00."),
    ],
)
def test_an_impossible_cost_is_refused_with_a_clear_message_and_nothing_is_saved(
    merchant, stamp_program, owner, cost, message
) -> None:
    with pytest.raises(ValidationError) as caught:
        services.program_create(
            merchant=merchant, spec=stamp_spec(reward_cost=Decimal(cost)), actor=owner
        )
    assert caught.value.message_dict["reward_cost"] == [message]
    assert not Program.objects.filter(name="Coffee card").exists()

    with pytest.raises(ValidationError) as caught:
        services.program_update(
            program=stamp_program,
            spec=spec_of(stamp_program, reward_cost=Decimal(cost)),
            actor=owner,
        )
    assert caught.value.message_dict["reward_cost"] == [message]
    assert Program.objects.get(pk=stamp_program.pk).reward_cost == Decimal("0.00")
    assert not AuditEvent.objects.exists()


def test_changing_the_cost_records_who_changed_it(stamp_program, owner) -> None:
    services.program_update(
        program=stamp_program, spec=spec_of(stamp_program, reward_cost=Decimal("1.20")), actor=owner
    )
    assert stamp_program.reward_cost == Decimal("1.20")
    event = AuditEvent.objects.get()
    assert (event.action, event.actor) == (AuditAction.PROGRAM_UPDATED, owner)
    assert event.summary == f"Changed the cost of one reward of {stamp_program.name}"
    assert event.details["changed"] == ["reward_cost"]


def test_saving_the_same_cost_again_records_nothing(stamp_program, owner) -> None:
    stamp_program.reward_cost = Decimal("1.20")
    stamp_program.save()
    services.program_update(
        program=stamp_program, spec=spec_of(stamp_program, reward_cost=Decimal("1.2")), actor=owner
    )
    assert not AuditEvent.objects.exists()


def test_a_spec_without_a_cost_keeps_the_saved_one(stamp_program, owner) -> None:
    stamp_program.reward_cost = Decimal("1.20")
    stamp_program.save()
    spec = spec_of(stamp_program, reward_cost=None, stamps_per_reward=8)
    services.program_update(program=stamp_program, spec=spec, actor=owner)
    assert Program.objects.get(pk=stamp_program.pk).reward_cost == Decimal("1.20")


def test_a_cashback_program_has_no_reward_cost(merchant, owner) -> None:
    # Its points cost their face value; a cost typed (or left over) is not counted.
    spec = ProgramSpec(
        name="Cashback club", kind=ProgramKind.CASHBACK, tiers=BRONZE, reward_cost=Decimal("-3")
    )
    program = services.program_create(merchant=merchant, spec=spec, actor=owner)
    assert Program.objects.get(pk=program.pk).reward_cost == Decimal("0.00")


def test_turning_a_stamp_program_into_cashback_clears_its_reward_cost(stamp_program, owner) -> None:
    stamp_program.reward_cost = Decimal("1.20")
    stamp_program.save()
    spec = spec_of(stamp_program, kind=ProgramKind.CASHBACK, tiers=BRONZE)
    services.program_update(program=stamp_program, spec=spec, actor=owner)
    assert Program.objects.get(pk=stamp_program.pk).reward_cost == Decimal("0.00")
    assert "cost of one reward" in AuditEvent.objects.get().summary


# ---------------------------------------------------------------------------------------------
# The settings pages


def test_a_new_stamp_program_offers_a_cost_of_0_in_the_merchants_currency(
    owner_client: Client,
) -> None:
    body = owner_client.get(reverse("settings:program_create") + "?kind=stamp").content.decode()
    assert "Cost of one reward (USD)" in body
    assert (
        "What one reward costs you, for the return on investment on your home page. Leave 0 if "
        "you do not want to count it."
    ) in body
    assert 'name="reward_cost" value="0"' in body


def test_the_cost_typed_on_the_create_page_is_saved_and_shown_again_on_edit(
    owner_client: Client, merchant
) -> None:
    response = owner_client.post(reverse("settings:program_create"), stamp_post())
    program = Program.objects.get(merchant=merchant)
    assert response.status_code == 302
    assert program.reward_cost == Decimal("1.20")
    body = owner_client.get(edit_url(program)).content.decode()
    assert 'name="reward_cost" value="1.20"' in body


def test_the_cost_changed_on_the_edit_page_is_saved_and_audited(
    owner_client: Client, stamp_program, owner
) -> None:
    data = stamp_post(name=stamp_program.name, referral_bonus="2", reward_cost="2.50")
    assert owner_client.post(edit_url(stamp_program), data).status_code == 302
    assert Program.objects.get(pk=stamp_program.pk).reward_cost == Decimal("2.50")
    event = AuditEvent.objects.get()
    assert (event.actor, event.summary) == (
        owner,
        f"Changed the cost of one reward of {stamp_program.name}",
    )
    body = owner_client.get(edit_url(stamp_program)).content.decode()
    assert 'name="reward_cost" value="2.50"' in body


def test_an_emptied_cost_field_means_no_cost(owner_client: Client, stamp_program) -> None:
    stamp_program.reward_cost = Decimal("1.20")
    stamp_program.save()
    data = stamp_post(name=stamp_program.name, reward_cost="")
    assert owner_client.post(edit_url(stamp_program), data).status_code == 302
    assert Program.objects.get(pk=stamp_program.pk).reward_cost == Decimal("0.00")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("a coffee", "Enter a number, for example 10 or 2.50."),
        ("-1", "The cost of one reward cannot be negative."),
        ("1.999", "The cost of one reward: use at most 2 decimal places."),
        ("5000000", "The cost of one reward can be at most $1,000,000.00."),
    ],
)
def test_the_edit_page_refuses_an_impossible_cost_next_to_the_field(
    owner_client: Client, stamp_program, typed, message
) -> None:
    stamp_program.reward_cost = Decimal("1.20")
    stamp_program.save()
    data = stamp_post(
        name=stamp_program.name, referral_bonus="2", reward_cost=typed, stamps_per_reward="8"
    )
    response = owner_client.post(edit_url(stamp_program), data)
    body = response.content.decode()
    assert response.status_code == 422
    assert "nothing was saved" in body
    # The message sits between the field and its help text.
    field_at = body.index('name="reward_cost"')
    help_at = body.index('id="id_reward_cost_helptext"')
    assert field_at < body.index(message, field_at) < help_at
    assert 'aria-invalid="true"' in body[body.rindex("<input", 0, field_at) : field_at + 200]
    program = Program.objects.get(pk=stamp_program.pk)
    assert (program.reward_cost, program.stamps_per_reward) == (Decimal("1.20"), 10)
    assert not AuditEvent.objects.exists()


def test_a_spanish_manager_types_the_cost_with_a_comma(
    owner_client: Client, owner, merchant
) -> None:
    UserPreference.objects.create(user=owner, language="es")
    response = owner_client.post(reverse("settings:program_create"), stamp_post(reward_cost="1,20"))
    program = Program.objects.get(merchant=merchant)
    assert response.status_code == 302
    assert program.reward_cost == Decimal("1.20")
    body = owner_client.get(edit_url(program)).content.decode()
    assert 'name="reward_cost" value="1,20"' in body


def test_the_cost_shows_only_with_the_stamp_rules(
    owner_client: Client, stamp_program, cashback_program
) -> None:
    # The settings script hides every data-show-when block whose rule the chosen kind fails.
    for program in (stamp_program, cashback_program):
        body = owner_client.get(edit_url(program)).content.decode()
        assert reward_cost_rules(body) == [["kind=stamp"]]


def test_the_cashback_form_saves_no_reward_cost(
    owner_client: Client, cashback_program, merchant
) -> None:
    issue_card(cashback_program)  # the kind is locked: it stays a cashback program
    data = cashback_post(name=cashback_program.name, reward_cost="1.20")
    assert owner_client.post(edit_url(cashback_program), data).status_code == 302
    assert Program.objects.get(pk=cashback_program.pk).reward_cost == Decimal("0.00")
    response = owner_client.post(reverse("settings:program_create"), cashback_post(name="Other"))
    assert response.status_code == 302
    assert Program.objects.get(merchant=merchant, name="Other").reward_cost == Decimal("0.00")
