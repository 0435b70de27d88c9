"""A program's reward, in the merchant's words, travels to the wallets: a back field of the
Apple pass and a text module of the Google Wallet object."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cards.models import Card, Program
from tests.wallet.apple_fixtures import pkpass_files
from wallet.apple.pkpass import pkpass_build
from wallet.google.objects import loyalty_object
from wallet.services import wallet_pass_ensure

pytestmark = pytest.mark.django_db


def with_reward(card: Card, description: str) -> Card:
    Program.objects.filter(pk=card.program_id).update(reward_description=description)
    return Card.objects.select_related("program", "merchant").get(pk=card.pk)


def back_fields(card: Card) -> dict[str, dict[str, Any]]:
    files = pkpass_files(pkpass_build(wallet_pass=wallet_pass_ensure(card=card)))
    content = json.loads(files["pass.json"])
    return {field["key"]: field for field in content["storeCard"]["backFields"]}


def text_modules(card: Card) -> dict[str, dict[str, str]]:
    data = loyalty_object(card, wallet_pass_ensure(card=card), "issuer.x-0")
    return {module["id"]: module for module in data["textModulesData"]}


def test_the_apple_pass_says_what_the_reward_is(apple_credentials: Any, stamp_card: Card) -> None:
    fields = back_fields(with_reward(stamp_card, "A free coffee"))
    assert fields["reward"]["label"] == "Reward"
    assert fields["reward"]["value"] == "A free coffee"


def test_an_apple_pass_without_a_reward_description_has_no_reward_field(
    apple_credentials: Any, stamp_card: Card
) -> None:
    assert "reward" not in back_fields(with_reward(stamp_card, ""))


def test_the_google_object_says_what_the_reward_is(
    google_credentials: Any, stamp_card: Card
) -> None:
    modules = text_modules(with_reward(stamp_card, "A free coffee"))
    assert modules["reward"] == {"id": "reward", "header": "Reward", "body": "A free coffee"}


def test_a_google_object_without_a_reward_description_has_no_reward_module(
    google_credentials: Any, stamp_card: Card
) -> None:
    assert "reward" not in text_modules(with_reward(stamp_card, ""))
