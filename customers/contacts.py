"""When two emails or phone numbers reach the same person.

A referral bonus is worth farming: ``grace+1@gmail.com``, ``g.race@googlemail.com`` and
``Grace@gmail.com`` all land in one inbox, and ``+1 415 555 0123`` and ``14155550123`` ring one
phone. These keys compare contacts the way mail and phone networks deliver them; they are for
comparing only, never stored or shown.
"""

from __future__ import annotations

from typing import Protocol

# Providers that deliver "g.race@" to "grace@"; googlemail.com is an old name of gmail.com.
DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


class Contact(Protocol):
    email: str
    phone: str


def email_key(email: str) -> str:
    """The inbox an address delivers to: lowercased, without a "+tag", dots ignored at Gmail.

    Empty for an empty address, and an address without "@" stays as typed (lowercased).
    """
    address = (email or "").strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return address
    # Plus addressing ("name+anything@") is honoured by most providers, so it is stripped for
    # every domain: two people sharing a mailbox name up to a "+" are very rare.
    local = local.split("+", 1)[0]
    if domain in DOTLESS_DOMAINS:
        local = local.replace(".", "")
        domain = DOTLESS_DOMAINS[domain]
    return f"{local}@{domain}"


def phone_key(phone: str) -> str:
    """The number's digits: "+1 (415) 555-0123" and "14155550123" are one phone."""
    return "".join(char for char in (phone or "") if char.isdigit())


def contact_keys(*, email: str = "", phone: str = "") -> frozenset[str]:
    """The keys under which a contact is reachable (none for blank fields)."""
    keys = set()
    if inbox := email_key(email):
        keys.add(f"email:{inbox}")
    if digits := phone_key(phone):
        keys.add(f"phone:{digits}")
    return frozenset(keys)


def same_person(first: Contact | None, *others: Contact | tuple[str, str]) -> bool:
    """Whether any of ``others`` (contacts, or (email, phone) pairs) reaches ``first``."""
    if first is None:
        return False
    mine = contact_keys(email=first.email, phone=first.phone)
    for other in others:
        email, phone = other if isinstance(other, tuple) else (other.email, other.phone)
        if mine & contact_keys(email=email, phone=phone):
            return True
    return False
