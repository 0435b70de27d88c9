"""Two contacts are one person when mail or phone networks deliver them to the same place."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from customers.contacts import contact_keys, email_key, phone_key, same_person


@pytest.mark.parametrize(
    ("email", "key"),
    [
        ("Grace@Example.com", "grace@example.com"),
        ("  grace@example.com ", "grace@example.com"),
        ("grace+news@example.com", "grace@example.com"),
        ("grace+a+b@example.com", "grace@example.com"),
        ("g.race@gmail.com", "grace@gmail.com"),
        ("G.Race+farm7@GoogleMail.com", "grace@gmail.com"),
        # Dots matter at providers other than Gmail.
        ("g.race@example.com", "g.race@example.com"),
        ("", ""),
        ("not-an-email", "not-an-email"),
        ("+tag@example.com", "@example.com"),
    ],
)
def test_an_email_key_is_the_inbox_it_delivers_to(email: str, key: str) -> None:
    assert email_key(email) == key


@pytest.mark.parametrize(
    ("phone", "key"),
    [("+1 (415) 555-0123", "14155550123"), ("+14155550123", "14155550123"), ("", "")],
)
def test_a_phone_key_is_its_digits(phone: str, key: str) -> None:
    assert phone_key(phone) == key


def test_blank_contacts_have_no_keys() -> None:
    assert contact_keys() == frozenset()
    assert contact_keys(email=" ", phone="-") == frozenset()


@dataclass
class Person:
    email: str = ""
    phone: str = ""


def test_same_person_by_any_email_alias_or_phone_digits() -> None:
    grace = Person(email="grace.hopper@gmail.com", phone="+14155550123")
    assert same_person(grace, Person(email="gracehopper+1@googlemail.com"))
    assert same_person(grace, Person(email="someone@example.com", phone="1 415 555 0123"))
    assert same_person(grace, Person(), ("GRACEHOPPER@gmail.com", ""))
    assert not same_person(grace, Person(email="grace.h@gmail.com", phone="+14155550124"))
    # Blank fields never match each other.
    assert not same_person(Person(), Person(), ("", ""))
    assert not same_person(None, grace)
