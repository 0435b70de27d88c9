"""A program's reward in the merchant's words ("a free coffee") and the link to their privacy
notice: set in the program's settings (audited like every setting), shown to customers on the
join page and their card, and to staff on the card's profile."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from cards import services
from cards.models import Card, Program
from loyalty.models import AuditAction, AuditEvent
from tests.cards.test_program_reward_cost import spec_of, stamp_post

pytestmark = pytest.mark.django_db

COFFEE = "a free coffee"
PRIVACY = "https://demo-coffee.example/privacy"


def edit_url(program: Program) -> str:
    return reverse("settings:program_edit", args=[program.pk])


def set_reward(program: Program, description: str = COFFEE, privacy_url: str = "") -> None:
    Program.objects.filter(pk=program.pk).update(
        reward_description=description, privacy_url=privacy_url
    )


def test_the_reward_and_privacy_link_typed_on_the_edit_page_are_saved_and_audited(
    owner_client: Client, stamp_program: Program, owner: object
) -> None:
    data = stamp_post(
        name=stamp_program.name, reward_description=f"  {COFFEE} ", privacy_url=PRIVACY
    )
    assert owner_client.post(edit_url(stamp_program), data).status_code == 302
    stamp_program.refresh_from_db()
    assert (stamp_program.reward_description, stamp_program.privacy_url) == (COFFEE, PRIVACY)
    event = AuditEvent.objects.get(action=AuditAction.PROGRAM_UPDATED)
    assert "reward description" in event.summary
    assert "privacy notice link" in event.summary
    assert {"reward_description", "privacy_url"} <= set(event.details["changed"])
    page = owner_client.get(edit_url(stamp_program)).text
    assert f'value="{COFFEE}"' in page
    assert f'value="{PRIVACY}"' in page


def test_a_reward_description_over_100_characters_is_refused_and_nothing_changes(
    owner_client: Client, stamp_program: Program
) -> None:
    data = stamp_post(name=stamp_program.name, reward_description="x" * 101)
    response = owner_client.post(edit_url(stamp_program), data)
    assert response.status_code == 422
    assert "Keep the reward under 100 characters." in response.text
    stamp_program.refresh_from_db()
    assert stamp_program.reward_description == ""
    assert not AuditEvent.objects.exists()


def test_the_service_refuses_a_privacy_link_that_is_not_a_web_page(
    stamp_program: Program,
) -> None:
    spec = spec_of(stamp_program, privacy_url="javascript:alert(1)")
    with pytest.raises(ValidationError) as refused:
        services.program_update(program=stamp_program, spec=spec, actor=None)
    assert "privacy_url" in refused.value.message_dict
    stamp_program.refresh_from_db()
    assert stamp_program.privacy_url == ""


def test_a_spec_that_does_not_name_the_reward_keeps_the_saved_one(
    stamp_program: Program,
) -> None:
    set_reward(stamp_program, privacy_url=PRIVACY)
    stamp_program.refresh_from_db()
    services.program_update(program=stamp_program, spec=spec_of(stamp_program), actor=None)
    stamp_program.refresh_from_db()
    assert (stamp_program.reward_description, stamp_program.privacy_url) == (COFFEE, PRIVACY)
    assert not AuditEvent.objects.exists()


def test_the_join_page_the_card_page_and_the_profile_say_what_the_reward_is(
    client: Client, owner_client: Client, stamp_card: Card
) -> None:
    set_reward(stamp_card.program)
    join = client.get(reverse("public:join", args=[stamp_card.program.join_token])).text
    card = client.get(reverse("public:card", args=[stamp_card.install_token])).text
    profile = owner_client.get(reverse("cards:profile", args=[stamp_card.serial])).text
    for page in (join, card, profile):
        assert f"Reward: {COFFEE}" in page


def test_without_a_reward_description_no_page_mentions_one(
    client: Client, owner_client: Client, stamp_card: Card
) -> None:
    join = client.get(reverse("public:join", args=[stamp_card.program.join_token])).text
    card = client.get(reverse("public:card", args=[stamp_card.install_token])).text
    profile = owner_client.get(reverse("cards:profile", args=[stamp_card.serial])).text
    for page in (join, card, profile):
        assert "data-reward-description" not in page
