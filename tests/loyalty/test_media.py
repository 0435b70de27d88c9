"""Uploaded logos served by the app under MEDIA_URL, in production (DEBUG off) too: images
under MEDIA_ROOT only, as inert images, and a 404 for anything else."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import reverse
from django.utils.http import http_date
from PIL import Image

from cards.models import Program
from loyalty.media import media_urlpatterns
from tests.factories import issue_card, stamp_program_form

pytestmark = pytest.mark.django_db


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (6, 6), (91, 58, 41)).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png()
PROGRAM_FORM = stamp_program_form()


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def production() -> Any:
    with override_settings(DEBUG=False):
        yield


def _upload_logo(owner_client: Client, program: Program) -> str:
    """Upload a logo through the program's settings page; its URL on the card page."""
    logo = SimpleUploadedFile("Our Logo.png", PNG, content_type="image/png")
    url = reverse("settings:program_edit", args=[program.pk])
    response = owner_client.post(url, {**PROGRAM_FORM, "logo": logo})
    assert response.status_code == 302, response.content.decode()[:2000]
    program.refresh_from_db()
    return program.logo.url


def test_a_logo_uploaded_in_the_settings_is_served_on_the_card_page_with_safe_headers(
    owner_client: Client, stamp_program: Program, media_root: Path, production: Any
) -> None:
    logo_url = _upload_logo(owner_client, stamp_program)
    assert re.fullmatch(r"/media/logos/[0-9a-f]{24}\.png", logo_url)
    card = issue_card(stamp_program)
    page = Client().get(reverse("public:card", args=[card.install_token])).content.decode()
    assert f'src="{logo_url}"' in page

    response = Client().get(logo_url)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Length"] == str(len(PNG))
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == "inline"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    # The name is random and never reused: a year in any cache.
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"


def test_head_answers_the_headers_and_other_methods_are_refused(
    media_root: Path, production: Any
) -> None:
    (media_root / "logos").mkdir()
    (media_root / "logos" / "0123456789abcdef01234567.png").write_bytes(PNG)
    url = "/media/logos/0123456789abcdef01234567.png"
    head = Client().head(url)
    assert (head.status_code, head["Content-Type"]) == (200, "image/png")
    assert head["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert Client().post(url).status_code == 405


def test_a_file_under_a_name_that_may_be_reused_is_cached_briefly(
    media_root: Path, production: Any
) -> None:
    (media_root / "logos").mkdir()
    (media_root / "logos" / "logo.png").write_bytes(PNG)
    response = Client().get("/media/logos/logo.png")
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=300"


def test_an_unchanged_file_answers_304_to_a_conditional_request(
    media_root: Path, production: Any
) -> None:
    (media_root / "a.gif").write_bytes(b"GIF89a")
    modified = (media_root / "a.gif").stat().st_mtime
    response = Client().get("/media/a.gif", headers={"If-Modified-Since": http_date(modified)})
    assert response.status_code == 304


@pytest.mark.parametrize(
    "path",
    [
        "/media/../secret.png",
        "/media/logos/../../secret.png",
        "/media/%2e%2e/secret.png",
        "/media//etc/hostname.png",
        "/media/link.png",  # a symbolic link to a file outside MEDIA_ROOT
    ],
)
def test_nothing_outside_media_root_is_served(media_root: Path, production: Any, path: str) -> None:
    (media_root.parent / "secret.png").write_bytes(PNG)
    os.symlink(media_root.parent / "secret.png", media_root / "link.png")
    assert Client().get(path).status_code == 404


@pytest.mark.parametrize(
    "name",
    [
        "logo.svg",
        "notes.txt",
        "page.html",
        "logo.png.html",
        "noextension",
        "folder.png",
        "gone.png",
    ],
)
def test_anything_but_an_existing_image_file_is_404(
    media_root: Path, production: Any, name: str
) -> None:
    for other in ("logo.svg", "notes.txt", "page.html", "logo.png.html", "noextension"):
        (media_root / other).write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'></svg>")
    (media_root / "folder.png").mkdir()
    assert Client().get(f"/media/{name}").status_code == 404


def test_the_route_exists_whatever_debug_is(production: Any) -> None:
    assert [pattern.name for pattern in media_urlpatterns()] == ["media"]


@pytest.mark.parametrize("media_url", ["https://cdn.example.com/media/", "/"])
def test_no_route_when_uploads_live_elsewhere_or_at_the_root(settings: Any, media_url: str) -> None:
    settings.MEDIA_URL = media_url
    assert media_urlpatterns() == []
