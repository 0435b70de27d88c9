"""Settings for the loyalty platform.

Everything that differs between a laptop and production comes from the environment (see
README "Configuration"). Production defaults are the safe ones: DEBUG off, secure cookies,
HSTS and a strict Content-Security-Policy.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from csp.constants import NONE, SELF

from loyalty.env import env_bool, env_int, env_list, env_str, parse_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / ".data")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY") or (
    # Only DEBUG and test runs may fall back to a throwaway key; production must set one.
    "insecure-development-key-do-not-use-in-production" if DEBUG or env_bool("TESTING") else ""
)
if not SECRET_KEY:
    raise RuntimeError("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Absolute base URL used for links that leave the dashboard (install and referral links, QR codes).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "axes",
    "csp",
    "loyalty",
    "cards",
    "customers",
    "feedback",
    "pushes",
    "wallet",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "loyalty.tenancy.MerchantMiddleware",
    # After the merchant is known: the user's language, else the browser's, else the merchant's.
    "loyalty.i18n.LanguageMiddleware",
    # A replaced card link (raised by any view under /c/<token>/) answers 410, not 404.
    "cards.middleware.RetiredCardLinkMiddleware",
    # Last, as django-axes requires: it turns locked-out logins into a response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "loyalty.urls"
WSGI_APPLICATION = "loyalty.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "loyalty.tenancy.merchant_context",
                "loyalty.i18n.language_context",
            ],
        },
    },
]

DATABASES = {
    "default": parse_database_url(
        env_str("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/loyalty")
    )
}
# Persistent connections: a new PostgreSQL connection per request (a backend process forked,
# authenticated and configured) cost more than most dashboard requests themselves. The health
# check replaces a connection the server dropped before the request uses it. Not in development:
# runserver starts a thread per request, and each thread would keep a connection of its own.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 0 if DEBUG else 300)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if env_bool("DATABASE_POOL", False):
    # psycopg's pool for long-running production processes (gunicorn, workers).
    DATABASES["default"]["OPTIONS"]["pool"] = {"min_size": 2, "max_size": 10}
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections instead
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
# Shared by every process, so the public forms' rate limits hold across gunicorn workers.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "loyalty",
        # Fail fast when Redis is unreachable: the rate limiter then counts in the process
        # (loyalty.ratelimit) instead of holding the request.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, loading the user's memberships in the same query (one per request).
    "loyalty.authentication.MembershipBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling: five failures for one username from one address lock it for 15 minutes.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The client's address as the rate limits see it, X-Forwarded-For from TRUSTED_PROXIES included.
AXES_CLIENT_IP_CALLABLE = "loyalty.ratelimit.client_ip"

# The languages shipped (README "Languages"): each named in itself, as the switcher shows it.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Named date formats per language (SHORT_DATE_FORMAT and friends), over Django's own.
FORMAT_MODULE_PATH = ["loyalty.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or env_bool("TESTING")
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Loyalty <no-reply@localhost>")

# Customer imports (customers.imports): a file of up to a million customers fits in 150 MB
# (about 150 bytes a row); it is streamed to a temporary file, never held in memory. The card
# links a finished import may email go out a few per second.
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 150 * 1024 * 1024)
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 1_000_000)
IMPORT_LINKS_PER_SECOND = env_int("IMPORT_LINKS_PER_SECOND", 10)

# Celery: the broker and result backend speak the Redis protocol (Redis or Valkey).
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A web request that queues work must not hang on a dead broker: connect within 2 seconds and
# retry a publish once, then the caller runs the work in-process (loyalty.celery.delay_or_run).
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}

# Web push (VAPID). When unset, keys are generated into DATA_DIR on first use.
VAPID_PUBLIC_KEY = env_str("VAPID_PUBLIC_KEY")
VAPID_PRIVATE_KEY = env_str("VAPID_PRIVATE_KEY")
VAPID_SUBJECT = env_str("VAPID_SUBJECT", "mailto:admin@localhost")
# Push endpoints come from browsers: only https URLs whose host resolves to public addresses
# are used (pushes/endpoints.py). Development with a local push service turns this on
# (dev.py run and the push tests do); `manage.py check --deploy` refuses it.
PUSH_ALLOW_PRIVATE_ENDPOINTS = env_bool("PUSH_ALLOW_PRIVATE_ENDPOINTS", False)
# Optional allow-list of push service hosts (comma-separated; each also allows its subdomains).
PUSH_ENDPOINT_HOSTS = env_list("PUSH_ENDPOINT_HOSTS", [])
# Development only: the local push inbox `python3 dev.py run` starts (pushes/devinbox.py).
# seed_demo subscribes a few demo cards to it and /dev/push-inbox/ shows what it received;
# read with DEBUG on only, so a production configuration never uses it.
PUSH_DEV_INBOX_URL = env_str("PUSH_DEV_INBOX_URL").rstrip("/") if DEBUG else ""

# Apple Wallet: the Pass Type ID, the team, its certificate and key (PEM files, or one PKCS#12
# file with a password) and Apple's WWDR intermediate certificate, all from the Apple Developer
# account. APNS_URL is Apple's production push gateway (tests point it at a local stand-in).
APPLE_PASS_TYPE_ID = env_str("APPLE_PASS_TYPE_ID")
APPLE_TEAM_ID = env_str("APPLE_TEAM_ID")
APPLE_PASS_CERTIFICATE = env_str("APPLE_PASS_CERTIFICATE")
APPLE_PASS_KEY = env_str("APPLE_PASS_KEY")
APPLE_PASS_KEY_PASSWORD = env_str("APPLE_PASS_KEY_PASSWORD")
APPLE_PASS_P12 = env_str("APPLE_PASS_P12")
APPLE_PASS_P12_PASSWORD = env_str("APPLE_PASS_P12_PASSWORD")
APPLE_WWDR_CERTIFICATE = env_str("APPLE_WWDR_CERTIFICATE")
APNS_URL = env_str("APNS_URL", "https://api.push.apple.com").rstrip("/")
# The CA bundle APNs's server certificate is verified with (empty: the system's trust store).
APNS_CA_FILE = env_str("APNS_CA_FILE") or None
# Google Wallet: the issuer id and the service account's JSON key (its token_uri is where
# OAuth tokens come from); the API's base URL and the save link's prefix.
GOOGLE_WALLET_ISSUER_ID = env_str("GOOGLE_WALLET_ISSUER_ID")
GOOGLE_WALLET_SERVICE_ACCOUNT_FILE = env_str("GOOGLE_WALLET_SERVICE_ACCOUNT_FILE")
GOOGLE_WALLET_API_URL = env_str(
    "GOOGLE_WALLET_API_URL", "https://walletobjects.googleapis.com/walletobjects/v1"
).rstrip("/")
GOOGLE_WALLET_SAVE_URL = env_str("GOOGLE_WALLET_SAVE_URL", "https://pay.google.com/gp/v/save/")
# Where the generated test key's OAuth tokens come from (a real key file names its own).
GOOGLE_WALLET_TOKEN_URI = env_str("GOOGLE_WALLET_TOKEN_URI")
# Development only: with the credentials above unset, generate test ones into DATA_DIR/wallet
# (python3 dev.py run turns it on). Real wallets refuse what they sign.
WALLET_TEST_CREDENTIALS = env_bool("WALLET_TEST_CREDENTIALS", False)

# Security. Production defaults; DEBUG relaxes only what breaks plain-http local use.
# Read from Redis, kept in the database (see loyalty.sessions).
SESSION_ENGINE = "loyalty.sessions"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Proxies whose X-Forwarded-For gives the client's address (rate limits, login throttling):
# IPs or CIDR networks, comma-separated, e.g. "127.0.0.1,10.0.0.0/8". The header is read only
# on requests whose REMOTE_ADDR is one of them (loyalty.ratelimit.client_ip), so a client that
# forges it changes nothing. BEHIND_PROXY alone trusts a proxy on the same host (loopback, as
# gunicorn's --forwarded-allow-ips does by default); a proxy elsewhere must be listed here, or
# every visitor counts as the proxy's one address. Neither set: nothing is trusted.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", ["127.0.0.1", "::1"] if BEHIND_PROXY else [])
for _proxy in TRUSTED_PROXIES:
    ipaddress.ip_network(_proxy, strict=False)  # a typo stops the start, naming the value

# No inline scripts or styles anywhere: every script and stylesheet is a static file.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "manifest-src": [SELF],
        "worker-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # django-axes logs every successful login at INFO; failures and lockouts are WARNING.
        "axes": {"level": "WARNING"},
        # httpx logs every request at INFO, and an APNs URL carries the device's push token.
        "httpx": {"level": "WARNING"},
    },
}
