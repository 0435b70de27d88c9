"""Demo devices: a few demo cards subscribed to the development push inbox.

Runs when ``seed_demo`` has loaded the demo data (``loyalty.signals.demo_data_seeded``) and
``PUSH_DEV_INBOX_URL`` names an inbox (``python3 dev.py run`` starts one, see
``pushes.devinbox``), so "Send push" works on those cards and the message shows on the
development page. Each subscription is a real one: the inbox makes its keys (p256dh and auth
per subscription) and keeps the private half to decrypt what it receives.

Idempotent like the rest of the demo: a card whose inbox subscription the inbox still knows keeps
it; one the inbox no longer knows (its state file removed, another port) ends and the card gets
a new one.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import translation
from django.utils.translation import gettext as _

from cards.models import Card, CardStatus, Device
from cards.services import card_mark_installed
from loyalty.models import Merchant
from pushes.devinbox import inbox_endpoints, inbox_subscribe
from pushes.models import PushSubscription
from pushes.services import subscription_expire, subscription_save

DEMO_DEVICES_PER_MERCHANT = 3
# What the demo devices say they are; the marker tells them from a developer's own browser.
DEMO_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 "
    "Safari/537.36 loyalty-push-dev-inbox"
)


def demo_cards(*, merchant: Merchant) -> list[Card]:
    """The demo cards that get a device: the merchant's first few demo customers' cards."""
    return list(
        Card.objects.filter(merchant=merchant, customer__email__endswith="@demo.example")
        .exclude(status=CardStatus.DELETED)
        .select_related("merchant")
        .order_by("pk")[:DEMO_DEVICES_PER_MERCHANT]
    )


def demo_subscriptions_ensure(
    *, merchants: Iterable[Merchant], inbox_url: str
) -> list[PushSubscription]:
    """Subscribe the demo cards of ``merchants`` to the inbox; the subscriptions made."""
    known = inbox_endpoints(inbox_url)
    made = []
    for merchant in merchants:
        for card in demo_cards(merchant=merchant):
            demo_devices = list(
                PushSubscription.objects.filter(
                    card=card, expired_at__isnull=True, user_agent=DEMO_USER_AGENT
                )
            )
            if any(device.endpoint in known for device in demo_devices):
                continue
            for lost in demo_devices:
                with translation.override(card.merchant.language):
                    reason = _("The development push inbox no longer knows this device.")
                subscription_expire(subscription=lost, reason=reason)
            browser = inbox_subscribe(inbox_url)
            made.append(
                subscription_save(
                    card=card,
                    endpoint=browser["endpoint"],
                    p256dh=browser["keys"]["p256dh"],
                    auth=browser["keys"]["auth"],
                    user_agent=DEMO_USER_AGENT,
                )
            )
            card_mark_installed(card=card, device=Device.PWA)
    return made
