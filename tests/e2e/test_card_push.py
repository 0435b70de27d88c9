"""Turning on notifications from the card page in a real browser.

The browser vendor's push service cannot be reached from here, so the page's
``PushManager.subscribe`` answers with a subscription whose keys the test made (the network
edge); everything else is real: the card's service worker with sw-push.js, the permission
asked on a tap, the VAPID key fetched from the server, the CSRF-protected POST.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import expect

from cards.models import Card
from pushes import vapid
from pushes.models import PushSubscription
from tests.pushes.support import FakeDNS

pytestmark = pytest.mark.django_db(transaction=True)

FAKE_PUSH_MANAGER = """
(() => {
  let current = null;
  const subscription = (endpoint, keys, key) => ({
    endpoint,
    options: { applicationServerKey: key },
    toJSON: () => ({ endpoint, expirationTime: null, keys }),
    unsubscribe: () => { current = null; return Promise.resolve(true); },
  });
  PushManager.prototype.subscribe = function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    window.__applicationServerKey = btoa(String.fromCharCode(...key))
      .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
    current = subscription(%(endpoint)r, %(keys)s, key.buffer);
    return Promise.resolve(current);
  };
  PushManager.prototype.getSubscription = function () { return Promise.resolve(current); };
})();
"""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_customer_turns_on_notifications_after_tapping_the_button(
    page: Any, live_server: Any, stamp_card: Card, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No DNS here: the push service's name resolves to one of its public addresses.
    FakeDNS(monkeypatch).set("fcm.googleapis.com", "142.250.74.42")
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    keys = {
        "p256dh": _b64url(
            public.public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        ),
        "auth": _b64url(os.urandom(16)),
    }
    endpoint = "https://fcm.googleapis.com/fcm/send/browser-device-1"
    script = FAKE_PUSH_MANAGER % {"endpoint": endpoint, "keys": repr(keys).replace("'", '"')}
    page.context.add_init_script(script)
    page.context.grant_permissions(["notifications"], origin=live_server.url)

    page.goto(f"/c/{stamp_card.install_token}/")
    section = page.locator("[data-push]")
    expect(section).to_be_visible()
    expect(section).to_contain_text("Turn on notifications to get Demo Coffee's offers")
    page.click('[data-action="enable_push"]')

    expect(section).to_have_attribute("data-push-state", "on")
    expect(section.locator("[data-push-status]")).to_have_text(
        "Notifications are on. You will get messages from this shop here."
    )
    expect(page.locator('[data-action="enable_push"]')).to_be_hidden()
    assert page.evaluate("window.__applicationServerKey") == vapid.public_key()
    subscription = PushSubscription.objects.get()
    assert (subscription.card, subscription.endpoint) == (stamp_card, endpoint)
    assert (subscription.p256dh, subscription.auth) == (keys["p256dh"], keys["auth"])
    assert subscription.device_label.startswith("Chrome")
    # The card's service worker, with the push handler imported, controls the page.
    assert page.evaluate("navigator.serviceWorker.ready.then(r => r.active.state)") == "activated"
