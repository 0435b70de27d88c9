"""Static files in production: collected with content hashes in their names and compressed
copies beside them, then served by whitenoise compressed and cached for good.

The settings use whitenoise's CompressedManifestStaticFilesStorage outside DEBUG and the
tests; these tests switch it on and collect into a folder of their own.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import brotli
import pytest
from django.core.management import call_command
from django.http import HttpResponse
from django.test import Client, RequestFactory, override_settings
from whitenoise.middleware import WhiteNoiseMiddleware

PRODUCTION_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
FOREVER = "max-age=315360000, public, immutable"
HASHED_CSS = re.compile(r"^app\.[0-9a-f]{12}\.css$")


@pytest.fixture(scope="module")
def static_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The project's static files collected once with the production storage."""
    root = tmp_path_factory.mktemp("staticfiles")
    with override_settings(STORAGES=PRODUCTION_STORAGES, STATIC_ROOT=root, DEBUG=False):
        call_command("collectstatic", "--noinput", verbosity=0)
        yield root


def _hashed_app_css(static_root: Path) -> Path:
    (found,) = (p for p in (static_root / "css").iterdir() if HASHED_CSS.match(p.name))
    return found


def _serve(path: str, encoding: str) -> Any:
    def not_static(request: Any) -> HttpResponse:
        return HttpResponse(status=404)

    # Built here, inside the overridden settings: it reads STATIC_ROOT when it starts.
    middleware = WhiteNoiseMiddleware(not_static)
    return middleware(RequestFactory().get(path, HTTP_ACCEPT_ENCODING=encoding))


def test_collectstatic_writes_hashed_names_and_compressed_copies(static_root: Path) -> None:
    css = _hashed_app_css(static_root)

    assert (static_root / "staticfiles.json").exists()
    assert gzip.decompress(Path(f"{css}.gz").read_bytes()) == css.read_bytes()
    assert brotli.decompress(Path(f"{css}.br").read_bytes()) == css.read_bytes()


@pytest.mark.parametrize(("asked", "given"), [("gzip", "gzip"), ("gzip, deflate, br", "br")])
def test_a_hashed_file_is_served_compressed_and_cached_for_good(
    static_root: Path, asked: str, given: str
) -> None:
    css = _hashed_app_css(static_root)
    with override_settings(STORAGES=PRODUCTION_STORAGES, STATIC_ROOT=static_root, DEBUG=False):
        response = _serve(f"/static/css/{css.name}", asked)

    assert response.status_code == 200
    assert response["Cache-Control"] == FOREVER
    assert response["Content-Encoding"] == given
    assert "Accept-Encoding" in response["Vary"]


def test_a_file_without_its_hash_is_not_cached_for_good(static_root: Path) -> None:
    with override_settings(STORAGES=PRODUCTION_STORAGES, STATIC_ROOT=static_root, DEBUG=False):
        response = _serve("/static/css/app.css", "gzip")

    assert response.status_code == 200
    assert "immutable" not in response["Cache-Control"]


@pytest.mark.django_db
def test_pages_link_the_hashed_files(static_root: Path) -> None:
    css = _hashed_app_css(static_root)
    with override_settings(STORAGES=PRODUCTION_STORAGES, STATIC_ROOT=static_root, DEBUG=False):
        page = Client().get("/login/").text

    assert f'href="/static/css/{css.name}"' in page
    assert 'href="/static/css/app.css"' not in page
