"""Settings for the test suite: the production settings, plus what a plain-http test server
needs. Everything else (CSP, CSRF, roles, throttling) stays as in production."""

import os

os.environ.setdefault("TESTING", "1")

from loyalty.settings import *  # noqa: F403

SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
# Argon2 is deliberately slow; the tests log in hundreds of times.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Apple's and Google's servers are never reached from a test: a test that talks to them
# starts a local stand-in and points these at it; any other request is refused at once (port 9,
# discard, has no listener).
# (A worker started by a test gets the stand-in's address through the environment.)
APNS_URL = os.environ.get("APNS_URL", "https://127.0.0.1:9")
GOOGLE_WALLET_API_URL = os.environ.get(
    "GOOGLE_WALLET_API_URL", "http://127.0.0.1:9/walletobjects/v1"
)
GOOGLE_WALLET_TOKEN_URI = os.environ.get("GOOGLE_WALLET_TOKEN_URI", "http://127.0.0.1:9/token")
