"""The images of a card's pass, drawn with Pillow in the program's colours.

- ``icon.png`` (29x29 points): the lock screen and notifications; the program's logo on its
  background colour, else the merchant's initial.
- ``logo.png`` (at most 160x50 points): the program's logo, else the initial on a disc.
- ``strip.png`` (375x123 points, stamp programs only): one slot per stamp of a reward, the
  card's current stamps filled, as the card page shows them.

Each comes at 1x, 2x and 3x (``@2x``/``@3x``). Shapes are drawn at a higher resolution and
scaled down, so edges are smooth while the inside of a slot keeps its exact colour.
"""

from __future__ import annotations

import io
import math
import unicodedata
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from cards.models import Card, Program
from cards.pwa import program_colors
from cards.templatetags.ledger_format import stamp_slots

SCALES = (1, 2, 3)
ICON_POINTS = (29, 29)
LOGO_POINTS = (160, 50)
STRIP_POINTS = (375, 123)
# Room kept free around the slots, in points.
STRIP_MARGIN_X = 12.0
STRIP_MARGIN_Y = 10.0
# A slot's radius as a share of its cell, and an empty slot's ring as a share of the radius.
SLOT_FILL = 0.4
RING_WIDTH = 0.12
# How much of the foreground tints the inside of an empty slot.
EMPTY_TINT = 0.18
SUPERSAMPLE = 4
# Logos are decoded only up to this many pixels: an upload is at most 1 MB, but a small file
# can claim a huge canvas.
MAX_LOGO_PIXELS = 4096 * 4096

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Slot:
    """One stamp slot on the strip: its centre and radius in points."""

    x: float
    y: float
    radius: float
    filled: bool


def suffixed(name: str, scale: int) -> str:
    """``icon.png`` at 1x, ``icon@2x.png`` at 2x, as Apple names resolutions."""
    if scale == 1:
        return name
    stem, _, extension = name.rpartition(".")
    return f"{stem}@{scale}x.{extension}"


def pass_images(card: Card) -> dict[str, bytes]:
    """Every image file of the card's pass, by its name in the bundle. Needs the card's
    program and merchant loaded."""
    program = card.program
    background, foreground = (color_rgb(color) for color in program_colors(program))
    logo = _program_logo(program)
    initial = _initial(card.merchant.name)
    files: dict[str, bytes] = {}
    for scale in SCALES:
        files[suffixed("icon.png", scale)] = _png(
            _icon(scale, logo, initial, background, foreground)
        )
        files[suffixed("logo.png", scale)] = _png(
            _logo(scale, logo, initial, background, foreground)
        )
    if program.is_stamp:
        slots = strip_slots(card.stamps_balance, program.stamps_per_reward)
        for scale in SCALES:
            files[suffixed("strip.png", scale)] = _png(_strip(scale, slots, background, foreground))
    return files


# ---------------------------------------------------------------------------------------------
# The strip's stamp slots


def strip_slots(stamps_balance: int, stamps_per_reward: int) -> list[Slot]:
    """The slots of a stamp card's strip, in reading order, the first ``stamps_balance``
    filled (clamped to the slots there are, as on the card page).

    The slots go on as many rows as make them largest: ten make two rows of five, never nine
    and one. Rows share the slots evenly (the first rows take one more when they do not
    divide), and each row is centred.
    """
    flags = stamp_slots(stamps_balance, stamps_per_reward)
    count = len(flags)
    if not count:
        return []
    width = STRIP_POINTS[0] - 2 * STRIP_MARGIN_X
    height = STRIP_POINTS[1] - 2 * STRIP_MARGIN_Y
    rows, cell = max(
        ((r, min(width / math.ceil(count / r), height / r)) for r in range(1, count + 1)),
        # The largest cell; on a tie, fewer rows.
        key=lambda option: (option[1], -option[0]),
    )
    per_row = [count // rows + (1 if row < count % rows else 0) for row in range(rows)]
    top = (STRIP_POINTS[1] - rows * cell) / 2
    slots: list[Slot] = []
    for row, in_row in enumerate(per_row):
        left = (STRIP_POINTS[0] - in_row * cell) / 2
        y = top + (row + 0.5) * cell
        for column in range(in_row):
            filled = flags[len(slots)]
            slots.append(Slot(left + (column + 0.5) * cell, y, cell * SLOT_FILL, filled))
    return slots


def _strip(scale: int, slots: list[Slot], background: RGB, foreground: RGB) -> Image.Image:
    factor = scale * SUPERSAMPLE
    size = (STRIP_POINTS[0] * factor, STRIP_POINTS[1] * factor)
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    tint = color_mix(foreground, background, EMPTY_TINT)
    for slot in slots:
        x, y, radius = slot.x * factor, slot.y * factor, slot.radius * factor
        box = (x - radius, y - radius, x + radius, y + radius)
        if slot.filled:
            draw.ellipse(box, fill=foreground)
        else:
            draw.ellipse(
                box, fill=tint, outline=foreground, width=max(1, round(radius * RING_WIDTH))
            )
    return image.resize(
        (STRIP_POINTS[0] * scale, STRIP_POINTS[1] * scale), Image.Resampling.LANCZOS
    )


# ---------------------------------------------------------------------------------------------
# Icon and logo


def _program_logo(program: Program) -> Image.Image | None:
    """The program's uploaded logo as RGBA, or None when it has none or it cannot be read."""
    if not program.logo:
        return None
    try:
        with program.logo.open("rb") as file:
            data = file.read()
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_LOGO_PIXELS:
                return None
            image.seek(0)  # the first frame of an animation
            return ImageOps.exif_transpose(image).convert("RGBA")
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None


def _initial(name: str) -> str:
    """The name's first letter or digit, without its accent ("É" draws as "E"): the bundled
    font has Latin letters only, and a missing glyph would draw as a box. "" when there is
    none (a plain disc)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return next((char.upper() for char in folded if char.isalnum()), "")


def _icon(
    scale: int, logo: Image.Image | None, initial: str, background: RGB, foreground: RGB
) -> Image.Image:
    side = ICON_POINTS[0] * scale
    if logo is not None:
        image = Image.new("RGBA", (side, side), (*background, 255))
        inner = ImageOps.contain(logo, (round(side * 0.8),) * 2, Image.Resampling.LANCZOS)
        image.alpha_composite(inner, ((side - inner.width) // 2, (side - inner.height) // 2))
        return image.convert("RGB")
    big = side * SUPERSAMPLE
    image = Image.new("RGB", (big, big), background)
    _letter(ImageDraw.Draw(image), big / 2, big / 2, big * 0.62, initial, foreground)
    return image.resize((side, side), Image.Resampling.LANCZOS)


def _logo(
    scale: int, logo: Image.Image | None, initial: str, background: RGB, foreground: RGB
) -> Image.Image:
    box = (LOGO_POINTS[0] * scale, LOGO_POINTS[1] * scale)
    if logo is not None:
        return ImageOps.contain(logo, box, Image.Resampling.LANCZOS)
    # A disc of the pass's height with the initial, next to which Wallet writes logoText.
    side = box[1]
    big = side * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((0, 0, big - 1, big - 1), fill=(*foreground, 255))
    _letter(draw, big / 2, big / 2, big * 0.58, initial, (*background, 255))
    return image.resize((side, side), Image.Resampling.LANCZOS)


def _letter(
    draw: ImageDraw.ImageDraw,
    x: float,
    y: float,
    size: float,
    letter: str,
    color: RGB | tuple[int, int, int, int],
) -> None:
    if not letter:
        return
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.load_default(size=size)
    except ImportError:  # Pillow without FreeType: the small bitmap font
        font = ImageFont.load_default()
    draw.text((x, y), letter, fill=color, font=font, anchor="mm")


# ---------------------------------------------------------------------------------------------
# Helpers


def color_rgb(color: str) -> RGB:
    """#rgb or #rrggbb (already checked by ``program_colors``) as a tuple."""
    digits = color.lstrip("#")
    if len(digits) == 3:
        digits = "".join(char * 2 for char in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def color_mix(color: RGB, base: RGB, share: float) -> RGB:
    r, g, b = (round(c * share + o * (1 - share)) for c, o in zip(color, base, strict=True))
    return r, g, b


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
