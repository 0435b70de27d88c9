"""The join form says which fields must be filled in, what the customer agrees to (messages
about their card, which they can stop), and links to the merchant's privacy notice when the
program has one."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from cards.models import CustomField, FieldType, Program

pytestmark = pytest.mark.django_db

MARK = (
    '<span class="required-mark" aria-hidden="true">*</span>'
    '<span class="visually-hidden">(required)</span>'
)
PRIVACY = "https://demo-coffee.example/privacy"


def join_page(client: Client, program: Program) -> str:
    return client.get(reverse("public:join", args=[program.join_token])).text


def label_of(page: str, field: str) -> str:
    found = re.search(rf'<label for="id_{field}">(.*?)</label>', page, re.S)
    assert found is not None, field
    return found.group(1)


def test_required_fields_carry_a_visible_mark_with_words_for_screen_readers(
    client: Client, stamp_program: Program
) -> None:
    page = join_page(client, stamp_program)
    assert MARK in label_of(page, "first_name")
    assert MARK in label_of(page, "email")
    assert MARK not in label_of(page, "last_name")
    assert MARK not in label_of(page, "phone")
    assert "data-required-legend" in page  # "* required" says what the mark means


def test_a_required_question_of_the_program_is_marked_too(
    client: Client, stamp_program: Program
) -> None:
    CustomField.objects.create(
        program=stamp_program,
        key="drink",
        label="Favourite drink",
        field_type=FieldType.TEXT,
        required=True,
    )
    page = join_page(client, stamp_program)
    assert re.search(r"Favourite drink\s*<span class=\"required-mark\"", page)


def test_the_consent_line_is_there_without_a_privacy_notice(
    client: Client, stamp_program: Program
) -> None:
    page = join_page(client, stamp_program)
    consent = page[page.index("data-join-consent") :]
    assert "sends you messages about your card" in consent
    assert "You can turn them off at any time" in consent
    assert "data-privacy-link" not in page


def test_the_privacy_notice_of_the_program_is_linked_from_the_form(
    client: Client, stamp_program: Program
) -> None:
    Program.objects.filter(pk=stamp_program.pk).update(privacy_url=PRIVACY)
    page = join_page(client, stamp_program)
    assert (
        f'<a href="{PRIVACY}" target="_blank" rel="noopener noreferrer" data-privacy-link>' in page
    )


def test_the_marks_survive_a_form_sent_back_with_errors(
    client: Client, stamp_program: Program
) -> None:
    response = client.post(
        reverse("public:join", args=[stamp_program.join_token]),
        {"first_name": "", "email": "not an email"},
    )
    assert response.status_code == 422
    assert MARK in label_of(response.text, "first_name")
    assert "data-join-consent" in response.text
