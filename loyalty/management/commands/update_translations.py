"""Refresh locale/<lang>/LC_MESSAGES/{django,djangojs}.po from the code, for every shipped language.

    python3 dev.py manage update_translations

Runs Django's makemessages twice with the project's one set of options: the ``django`` domain
(templates, text emails, Python, and the service worker template) and the ``djangojs`` domain
(static/'s scripts). New strings arrive untranslated, removed ones are dropped; translate the
new entries, then ``python3 dev.py test`` says whether anything is still missing (README
"Languages").
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

# Never ours to translate: tests, benchmarks, vendored code, build output, migrations.
IGNORED = [
    "tests",
    "bench",
    "mutants",
    "staticfiles",
    "media",
    "node_modules",
    "migrations",
    "static/vendor",
    "dev.py",
    "manage.py",
]

DOMAINS: list[dict[str, Any]] = [
    # Django templates include templates/cards/public/sw.js; static/ has only real JavaScript.
    {"domain": "django", "extensions": ["html", "txt", "py", "js"], "ignore": ["static"]},
    {"domain": "djangojs", "extensions": ["js"], "ignore": ["templates"]},
]


def shipped_languages() -> list[str]:
    """Every language but the source language, English."""
    return [code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


def update_translations(languages: list[str] | None = None) -> None:
    """makemessages into ``settings.LOCALE_PATHS[0]`` for ``languages`` (default: all shipped)."""
    for options in DOMAINS:
        call_command(
            "makemessages",
            locale=languages or shipped_languages(),
            domain=options["domain"],
            extensions=options["extensions"],
            ignore_patterns=IGNORED + options["ignore"],
            no_obsolete=True,
            # File names without line numbers: an edit elsewhere in a file changes no catalogue.
            add_location="file",
            verbosity=0,
        )


class Command(BaseCommand):
    help = "Refresh the translation catalogues in locale/ from the code."
    # Works while the code is half-edited: reading strings needs no URL or model checks.
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        update_translations()
        self.stdout.write("Catalogues updated: " + ", ".join(shipped_languages()))
