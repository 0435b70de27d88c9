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
