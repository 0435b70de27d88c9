"""What makes the card page an installable app: its manifest, icons and colours.

The icons are drawn here (a stamp ring in the program's colours) and encoded as PNG with the
standard library, so installing needs no image library; an SVG of the same drawing serves
browsers that take one.
"""

from __future__ import annotations

import functools
import math
import re
import struct
import zlib
from typing import Any

from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from cards.models import Card, Program

ICON_SIZES = (192, 512)
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")
DEFAULT_BACKGROUND = "#5b3a29"
DEFAULT_FOREGROUND = "#ffffff"


def safe_color(value: str, default: str) -> str:
    """A #rgb or #rrggbb colour, or the default: colours end up in CSS and SVG."""
    return value if _HEX.match(value or "") else default


def program_colors(program: Program) -> tuple[str, str]:
    return (
        safe_color(program.background_color, DEFAULT_BACKGROUND),
        safe_color(program.foreground_color, DEFAULT_FOREGROUND),
    )


def theme_css(program: Program) -> str:
    background, foreground = program_colors(program)
    return f":root {{ --card-bg: {background}; --card-fg: {foreground}; }}\n"


def manifest(card: Card) -> dict[str, Any]:
    """The web app manifest of one card: it opens on the card itself, in its own window."""
    background, _foreground = program_colors(card.program)
    card_url = reverse("public:card", args=[card.install_token])
    icons: list[dict[str, str]] = [
        {
            "src": reverse("public:card_icon_png", args=[card.install_token, size]),
            "sizes": f"{size}x{size}",
            "type": "image/png",
            "purpose": "any maskable",
        }
        for size in ICON_SIZES
    ]
    icons.append(
        {
            "src": reverse("public:card_icon_svg", args=[card.install_token]),
            "sizes": "any",
            "type": "image/svg+xml",
            "purpose": "any",
        }
    )
    name = f"{card.merchant.name} {card.program.name}"
    return {
        "id": card_url,
        "name": name[:60],
        "short_name": card.merchant.name[:12],
        "description": _("Your %(program)s card") % {"program": card.program.name},
        # The language the card page speaks to this customer (set by the calling view).
        "lang": translation.get_language(),
        "start_url": card_url,
        "scope": card_url,
        "display": "standalone",
        "orientation": "portrait",
        "background_color": background,
        "theme_color": background,
        "icons": icons,
    }


def _rgb(color: str) -> bytes:
    digits = color.lstrip("#")
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    return bytes.fromhex(digits)


def icon_svg(background: str, foreground: str) -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512" width="512" '
        'height="512">'
        f'<rect width="512" height="512" fill="{background}"/>'
        f'<circle cx="256" cy="256" r="128" fill="none" stroke="{foreground}" '
        'stroke-width="52"/>'
        "</svg>"
    )


@functools.lru_cache(maxsize=64)
def icon_png(size: int, background: str, foreground: str) -> bytes:
    """A square PNG: the background with a ring in the foreground colour, the same drawing as
    ``icon_svg``. The ring stays inside the middle 80 %, the safe zone of maskable icons."""
    bg, fg = _rgb(background), _rgb(foreground)
    centre = size / 2
    outer, inner = size * 154 / 512, size * 102 / 512
    rows = []
    for y in range(size):
        dy = y + 0.5 - centre
        row = bytearray(bg * size)
        if abs(dy) < outer:
            half_outer = math.sqrt(outer * outer - dy * dy)
            half_inner = math.sqrt(inner * inner - dy * dy) if abs(dy) < inner else 0.0
            for start, stop in (
                (centre - half_outer, centre - half_inner),
                (centre + half_inner, centre + half_outer),
            ):
                first, last = round(start), round(stop)
                if last > first:
                    row[first * 3 : last * 3] = fg * (last - first)
        rows.append(b"\x00" + bytes(row))
    return _png(size, size, b"".join(rows))


def _png(width: int, height: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
