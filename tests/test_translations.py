"""The shipped catalogues are complete: every string of the code is in them, and translated.

The code is read again with makemessages (``update_translations``, the command developers run)
into a temporary folder and compared with locale/: a string wrapped in the code but missing
from a catalogue, or left in a catalogue after the code dropped it, fails; so does an entry that
is empty or fuzzy, or one msgfmt refuses (placeholders that differ from the English).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po
from django.conf import settings
from django.test import override_settings

from loyalty.management.commands.update_translations import (
    DOMAINS,
    IGNORED,
    shipped_languages,
    update_translations,
)

LOCALE = Path(settings.BASE_DIR) / "locale"
LANGUAGES = shipped_languages()
DOMAIN_NAMES = [options["domain"] for options in DOMAINS]
# gettext's tools come with the venv (the i18n dependency group), wherever pytest was started.
VENV_BIN = Path(sys.executable).parent

Key = tuple[str | None, str]


def _read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def _key(message: Message) -> Key:
    msgid = message.id if isinstance(message.id, str) else message.id[0]
    return message.context, msgid


def _keys(catalog: Catalog) -> set[Key]:
    return {_key(message) for message in catalog if message.id}


def _untranslated(catalog: Catalog) -> list[Key]:
    """Entries a reader of this language would see in English (empty) or wrongly (fuzzy)."""
    problems = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            problems.append(_key(message))
    return problems


def _catalogue(language: str, domain: str, root: Path = LOCALE) -> Path:
    return root / language / "LC_MESSAGES" / f"{domain}.po"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """locale/ as makemessages makes it from today's code, in a temporary folder.

    makemessages writes next to the code it reads (a ``locale`` folder in the working directory
    wins), so it reads a copy of the code, never touching the shipped catalogues.
    """
    copy = tmp_path_factory.mktemp("code") / "project"
    shutil.copytree(
        settings.BASE_DIR,
        copy,
        ignore=shutil.ignore_patterns(".*", "locale", "__pycache__", *IGNORED),
    )
    path, cwd = os.environ.get("PATH", ""), os.getcwd()
    os.environ["PATH"] = os.pathsep.join([str(VENV_BIN), path])
    os.chdir(copy)
    try:
        with override_settings(LOCALE_PATHS=[copy / "locale"]):
            update_translations()
        yield copy / "locale"
    finally:
        os.chdir(cwd)
        os.environ["PATH"] = path


@pytest.mark.parametrize("domain", DOMAIN_NAMES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_of_the_code_is_in_the_catalogue(
    extracted: Path, language: str, domain: str
) -> None:
    fresh = _keys(_read(_catalogue(language, domain, extracted)))
    shipped = _keys(_read(_catalogue(language, domain)))
    hint = "run `python3 dev.py manage update_translations`, then translate the new entries"
    assert fresh, "makemessages found no strings: is the extraction still pointed at the code?"
    assert sorted(fresh - shipped) == [], f"missing from locale/{language} ({hint})"
    assert sorted(shipped - fresh) == [], f"no longer in the code ({hint})"


@pytest.mark.parametrize("domain", DOMAIN_NAMES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_entry_is_translated(language: str, domain: str) -> None:
    catalog = _read(_catalogue(language, domain))
    assert _untranslated(catalog) == []


@pytest.mark.parametrize("domain", DOMAIN_NAMES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_msgfmt_accepts_the_catalogue(language: str, domain: str, tmp_path: Path) -> None:
    """--check compares each translation's placeholders with the English and the plural forms
    with the language's plural rule."""
    msgfmt = shutil.which("msgfmt", path=os.pathsep.join([str(VENV_BIN), os.environ["PATH"]]))
    assert msgfmt, "msgfmt is missing: the i18n dependency group brings it"
    result = subprocess.run(
        [msgfmt, "--check", "-o", tmp_path / "out.mo", _catalogue(language, domain)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# The names makemessages tells xgettext to read (Django's keywords and xgettext's own for Python).
EXTRACTED_NAMES = {
    "gettext",
    "gettext_lazy",
    "gettext_noop",
    "ngettext",
    "ngettext_lazy",
    "pgettext",
    "pgettext_lazy",
    "npgettext",
    "npgettext_lazy",
}


def _hidden_translation_imports(source: str) -> list[str]:
    """``from django.utils.translation import gettext_lazy as _l``: xgettext would never see
    the strings passed to ``_l``, so they would stay English in every language."""
    hidden = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation":
            for alias in node.names:
                name = alias.asname or alias.name
                if alias.name in EXTRACTED_NAMES and name not in EXTRACTED_NAMES | {"_"}:
                    hidden.append(f"{alias.name} as {name}")
    return hidden


def test_translation_functions_keep_names_makemessages_reads() -> None:
    root = Path(settings.BASE_DIR)
    problems = {
        str(path.relative_to(root)): hidden
        for folder in ("loyalty", "cards", "customers", "feedback", "pushes")
        for path in sorted((root / folder).rglob("*.py"))
        if (hidden := _hidden_translation_imports(path.read_text()))
    }
    assert problems == {}


def test_a_renamed_translation_function_is_reported() -> None:
    source = "from django.utils.translation import gettext as _, gettext_lazy as _lazy\n"
    assert _hidden_translation_imports(source) == ["gettext_lazy as _lazy"]


def test_an_empty_or_fuzzy_entry_counts_as_untranslated() -> None:
    po = b"""
msgid "Stamps"
msgstr ""

#, fuzzy
msgid "Reward"
msgstr "Premio"

msgctxt "noun"
msgid "Visit"
msgstr "Visita"

msgid "%(count)s stamp"
msgid_plural "%(count)s stamps"
msgstr[0] "%(count)s sello"
msgstr[1] ""
"""
    catalog = read_po(BytesIO(po))
    assert _untranslated(catalog) == [(None, "Stamps"), (None, "Reward"), (None, "%(count)s stamp")]
