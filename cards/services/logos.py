"""A program's design: the uploaded logo (checked by its content, stored under a random name)
and the contrast of the card's colours."""

from __future__ import annotations

import io
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from cards.models import Program

MAX_LOGO_BYTES = 1024 * 1024
_IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)


def _relative_luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(background: str, foreground: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours, from 1 (same) to 21 (black on white)."""
    light, dark = sorted((_relative_luminance(background), _relative_luminance(foreground)))[::-1]
    return (light + 0.05) / (dark + 0.05)


def logo_clean(upload: Any) -> tuple[bytes, str]:
    """The bytes and extension of an uploaded logo, or a ValidationError for ``logo``.

    Accepts PNG, JPEG, GIF and WebP up to 1 MB, recognised by their content, not by the name
    the browser sent. Never SVG: it can carry scripts.
    """
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_LOGO_BYTES:
        megabytes = number_format(size / 1024 / 1024, 1)
        raise ValidationError(
            {"logo": _("The logo is %(size)s MB; the limit is 1 MB.") % {"size": megabytes}}
        )
    data = upload.read(MAX_LOGO_BYTES + 1)
    if len(data) > MAX_LOGO_BYTES:
        raise ValidationError({"logo": _("The logo is larger than the 1 MB limit.")})
    if not data:
        raise ValidationError({"logo": _("The file is empty.")})
    extension = _image_extension(data)
    if extension is None:
        raise ValidationError({"logo": _("Upload a PNG, JPEG, GIF or WebP image.")})
    return data, extension


def _image_extension(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        extension: str | None = "webp"
    else:
        extension = next((ext for sig, ext in _IMAGE_SIGNATURES if data.startswith(sig)), None)
    if extension is None:
        return None
    # Decode it too: a valid header is not a valid image.
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
    return extension


def logo_store(*, program: Program, logo: tuple[bytes, str]) -> str:
    """Attach a cleaned logo under a random name; returns the old file's name."""
    data, extension = logo
    old = program.logo.name or ""
    program.logo.save(f"{secrets.token_hex(12)}.{extension}", ContentFile(data), save=False)
    return old


def logo_delete_on_commit(*, program: Program, name: str) -> None:
    """Delete a replaced logo file once the new one is committed (never before: a rollback
    would leave the program pointing at a missing file)."""
    if name:
        storage = program.logo.storage
        transaction.on_commit(lambda: storage.delete(name))
