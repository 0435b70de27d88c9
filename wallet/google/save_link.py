"""The "Save to Google Wallet" link: ``https://pay.google.com/gp/v/save/<JWT>``.

The JWT is signed RS256 with the service account's key (Google checks it against the key's
public half) and carries the card's LoyaltyObject; saving it creates the object when it does
not exist yet, or adds the existing one to the holder's wallet.

The program's LoyaltyClass is inserted through the REST API beforehand, as Google's loyalty
guides do ("once the LoyaltyObject is created, wrap it in a JWT"): a class inside a JWT is
only created when missing and never updated, so the program's design must go through the API
anyway, and a JWT without it keeps the link short. Only when the class could not be confirmed
current through the API (Google unreachable at that moment) does the JWT carry it too, so that
saving still works.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from google.auth import jwt

from cards.models import Card
from wallet.google.credentials import google_credentials
from wallet.google.objects import fingerprint, loyalty_class, loyalty_object
from wallet.models import GoogleClass, WalletPass


def google_save_url(*, card: Card, wallet_pass: WalletPass, object_id: str) -> str:
    credentials = google_credentials()
    payload: dict[str, Any] = {"loyaltyObjects": [loyalty_object(card, wallet_pass, object_id)]}
    design = loyalty_class(card.program)
    if not _class_is_current(card, fingerprint(design)):
        payload["loyaltyClasses"] = [design]
    claims = {
        "iss": credentials.email,
        "aud": "google",
        "typ": "savetowallet",
        "iat": int(time.time()),
        # The sites allowed to show the button with this JWT.
        "origins": [settings.SITE_URL],
        "payload": payload,
    }
    token = jwt.encode(credentials.credentials.signer, claims)
    return f"{settings.GOOGLE_WALLET_SAVE_URL}{token.decode('ascii')}"


def _class_is_current(card: Card, design_fingerprint: str) -> bool:
    return GoogleClass.objects.filter(
        program_id=card.program_id, synced_fingerprint=design_fingerprint
    ).exists()
