"""Uploaded files (programs' logos) served by the app itself, in production as in development.

whitenoise serves only what ``collectstatic`` gathered, so without this the card page's logo
(``/media/logos/<random>.png``) would answer 404 in production. The view serves files under
``MEDIA_ROOT`` only, and only the image types the logo upload accepts
(``cards.services.logo_clean``: PNG, JPEG, GIF, WebP); anything else is a 404. The headers make
the answer an inert image whatever the file holds: the type comes from the extension
(``nosniff``: the browser does not guess another), it is shown ``inline`` rather than saved,
and a sandboxing Content-Security-Policy forbids scripts should a file ever be opened as a
document.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.http import FileResponse, Http404, HttpRequest, HttpResponseNotModified
from django.http.response import HttpResponseBase
from django.urls import URLPattern, path
from django.utils._os import safe_join
from django.utils.http import http_date
from django.views.decorators.http import require_safe
from django.views.static import was_modified_since

# The image types a logo may have (by the extension ``logo_store`` gives it) and their types.
MEDIA_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
}
# Logos are stored under a fresh random name (``logo_store``) and never rewritten: a name
# always means the same bytes, so browsers and proxies may keep it for a year.
UNIQUE_NAME = re.compile(r"[0-9a-f]{24}\.[a-z]+")
LONG_CACHE = "public, max-age=31536000, immutable"
SHORT_CACHE = "public, max-age=300"
SANDBOX = "default-src 'none'; sandbox"


@require_safe
def media(request: HttpRequest, path: str) -> HttpResponseBase:
    """One uploaded image (GET and HEAD), or 404."""
    content_type = MEDIA_TYPES.get(PurePosixPath(path).suffix.lower().lstrip("."))
    if content_type is None:
        raise Http404
    file = _media_file(path)
    stat = file.stat()
    if not was_modified_since(request.META.get("HTTP_IF_MODIFIED_SINCE"), stat.st_mtime):
        return HttpResponseNotModified()
    response = FileResponse(file.open("rb"), content_type=content_type)
    response["Last-Modified"] = http_date(stat.st_mtime)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    response["Content-Security-Policy"] = SANDBOX
    response["Cache-Control"] = LONG_CACHE if UNIQUE_NAME.fullmatch(file.name) else SHORT_CACHE
    return response


def _media_file(name: str) -> Path:
    """The regular file ``name`` under MEDIA_ROOT, symbolic links resolved; else 404."""
    root = Path(settings.MEDIA_ROOT).resolve()
    try:
        file = Path(safe_join(root, name)).resolve(strict=True)
    except (SuspiciousFileOperation, OSError, ValueError):  # outside, missing, a NUL byte
        raise Http404 from None
    if not file.is_relative_to(root) or not file.is_file():
        raise Http404
    return file


def media_urlpatterns() -> list[URLPattern]:
    """The route under ``MEDIA_URL``, whatever DEBUG is; none when MEDIA_URL is another host's
    (uploads then live in object storage, which serves them itself)."""
    url = urlsplit(settings.MEDIA_URL)
    prefix = url.path.strip("/")
    if url.scheme or url.netloc or not prefix:  # never a catch-all at the site's root
        return []
    return [path(f"{prefix}/<path:path>", media, name="media")]
