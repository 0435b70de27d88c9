"""The card page's wallet part (registered in ``WalletConfig.ready``): "Add to Apple Wallet"
and "Add to Google Wallet".

Which buttons show is the template's choice, from the page's ``platform`` (decided from the
User-Agent by ``cards.card_page``): an iPhone gets Apple's, an Android phone Google's, a
desktop both and a code that opens the card page on a phone, anything else both. A wallet
shows only when its passes can be signed (``wallet.conf``); a deleted card offers neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import segno
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from cards.models import Card
from cards.selectors import card_install_url
from wallet import conf

WALLET_SNIPPET = "wallet/card_buttons.html"


@dataclass
class WalletButtons:
    card: Card
    apple: bool
    google: bool

    @cached_property
    def page_qr(self) -> SafeString:
        """The card page's own link as a QR code, for a phone's camera (desktop only)."""
        svg = segno.make(card_install_url(self.card), error="m").svg_inline(
            scale=4, border=2, title=_("This card's page")
        )
        # segno's markup around our own URL: nothing a customer typed.
        return mark_safe(svg)  # noqa: S308


def card_page_part(card: Card) -> dict[str, Any]:
    if card.is_deleted:
        return {}
    buttons = WalletButtons(card=card, apple=conf.apple_enabled(), google=conf.google_enabled())
    if not (buttons.apple or buttons.google):
        return {}
    return {"wallet_buttons": buttons, "wallet_snippet": WALLET_SNIPPET}
