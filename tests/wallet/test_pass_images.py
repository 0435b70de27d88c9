"""The pass's images: their sizes, the stamp strip's slots, the logo and the icon."""

from __future__ import annotations

import io
import itertools
from collections import deque
from typing import Any

import pytest
from django.core.files.base import ContentFile
from PIL import Image

from cards import services
from cards.models import Card, Program
from tests.factories import StampProgramFactory, issue_card
from tests.wallet.apple_fixtures import AppleTestCredentials, pkpass_files
from wallet.apple.images import STRIP_POINTS, pass_images, strip_slots
from wallet.apple.pkpass import pkpass_build
from wallet.services import wallet_pass_ensure

RGB = tuple[int, int, int]
BACKGROUND: RGB = (0x12, 0x34, 0x56)
FOREGROUND: RGB = (0xFF, 0xCC, 0x00)


def _image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def _pixels(image: Image.Image) -> list[Any]:
    width, height = image.size
    return [image.getpixel((x, y)) for y in range(height) for x in range(width)]


def _distance(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    return sum((x - y) ** 2 for x, y in zip(a[:3], b[:3], strict=True))


def _is_foreground(pixel: tuple[int, ...]) -> bool:
    return _distance(pixel, FOREGROUND) < _distance(pixel, BACKGROUND)


def _shapes(image: Image.Image) -> list[bool]:
    """The foreground shapes drawn on the image (8-connected), each True when it covers its own
    middle (a disc) or False when it does not (a ring), left to right and top to bottom."""
    rgb = image.convert("RGB")
    width, height = rgb.size
    pixels = rgb.load()
    assert pixels is not None
    seen: set[tuple[int, int]] = set()
    shapes = []
    for y in range(height):
        for x in range(width):
            if (x, y) in seen or not _is_foreground(pixels[x, y]):
                continue
            members = set()
            queue = deque([(x, y)])
            seen.add((x, y))
            while queue:
                px, py = queue.popleft()
                members.add((px, py))
                for dx in (-1, 0, 1):
                    for dy in (-1, 0, 1):
                        nx, ny = px + dx, py + dy
                        inside = 0 <= nx < width and 0 <= ny < height
                        if inside and (nx, ny) not in seen and _is_foreground(pixels[nx, ny]):
                            seen.add((nx, ny))
                            queue.append((nx, ny))
            xs, ys = [p[0] for p in members], [p[1] for p in members]
            middle = ((min(xs) + max(xs)) // 2, (min(ys) + max(ys)) // 2)
            shapes.append((middle[1], middle[0], middle in members))
    # Reading order: shapes whose middles are a few pixels apart vertically share a row.
    rows: list[list[tuple[int, int, bool]]] = []
    for shape in sorted(shapes):
        if rows and shape[0] - rows[-1][0][0] <= 3:
            rows[-1].append(shape)
        else:
            rows.append([shape])
    return [filled for row in rows for _y, _x, filled in sorted(row, key=lambda s: s[1])]


@pytest.fixture
def coloured_program(merchant: Any) -> Program:
    return StampProgramFactory(
        merchant=merchant, background_color="#123456", foreground_color="#ffcc00"
    )


def _card_with_stamps(program: Program, stamps: int) -> Card:
    card = issue_card(program)
    if stamps:
        services.card_add_stamps(card=card, value=stamps, actor=None)
    card.refresh_from_db()
    return card


def test_images_come_in_apples_sizes_at_every_scale(
    apple_credentials: AppleTestCredentials, stamp_card: Card
) -> None:
    files = pkpass_files(pkpass_build(wallet_pass=wallet_pass_ensure(card=stamp_card)))
    for scale, suffix in ((1, ""), (2, "@2x"), (3, "@3x")):
        assert _image(files[f"icon{suffix}.png"]).size == (29 * scale, 29 * scale)
        logo_width, logo_height = _image(files[f"logo{suffix}.png"]).size
        assert logo_width <= 160 * scale
        assert logo_height <= 50 * scale
        assert _image(files[f"strip{suffix}.png"]).size == (375 * scale, 123 * scale)
        assert _image(files[f"strip{suffix}.png"]).format == "PNG"


def test_the_strip_shows_the_stamps_filled_and_the_rest_empty(coloured_program: Program) -> None:
    card = _card_with_stamps(coloured_program, 7)
    strip = _image(pass_images(card)["strip.png"])
    assert _shapes(strip) == [True] * 7 + [False] * 3
    assert strip.convert("RGB").getpixel((2, 2)) == BACKGROUND


@pytest.mark.parametrize("scale", [1, 2, 3])
def test_every_resolution_has_the_stamps_at_the_slot_centres(
    coloured_program: Program, scale: int
) -> None:
    card = _card_with_stamps(coloured_program, 4)
    suffix = "" if scale == 1 else f"@{scale}x"
    strip = _image(pass_images(card)[f"strip{suffix}.png"]).convert("RGB")
    slots = strip_slots(card.stamps_balance, coloured_program.stamps_per_reward)
    assert len(slots) == 10
    sampled = [_is_foreground(strip.getpixel((int(s.x * scale), int(s.y * scale)))) for s in slots]
    assert sampled == [True] * 4 + [False] * 6
    filled_centre = strip.getpixel((int(slots[0].x * scale), int(slots[0].y * scale)))
    assert filled_centre == FOREGROUND


def test_ten_slots_make_two_rows_of_five() -> None:
    slots = strip_slots(0, 10)
    rows = sorted({round(slot.y, 3) for slot in slots})
    assert len(rows) == 2
    assert [sum(1 for s in slots if round(s.y, 3) == row) for row in rows] == [5, 5]


@pytest.mark.parametrize(("count", "rows"), [(1, [1]), (4, [4]), (7, [4, 3]), (12, [6, 6])])
def test_rows_share_the_slots_evenly(count: int, rows: list[int]) -> None:
    slots = strip_slots(0, count)
    heights = sorted({round(slot.y, 3) for slot in slots})
    assert [sum(1 for s in slots if round(s.y, 3) == y) for y in heights] == rows


def test_slots_fit_the_strip_and_never_overlap_for_any_reward_size() -> None:
    width, height = STRIP_POINTS
    for count in range(1, 101):
        slots = strip_slots(0, count)
        assert len(slots) == count
        for slot in slots:
            assert slot.radius >= 4, count
            assert slot.radius <= slot.x <= width - slot.radius
            assert slot.radius <= slot.y <= height - slot.radius
        for a, b in itertools.pairwise(slots):
            if a.y == b.y:
                assert b.x - a.x > a.radius + b.radius, count


def test_a_balance_above_the_slots_fills_them_all(coloured_program: Program) -> None:
    card = _card_with_stamps(coloured_program, 7)
    coloured_program.stamps_per_reward = 5  # changed after the stamps were earned
    coloured_program.save()
    card.refresh_from_db()
    assert _shapes(_image(pass_images(card)["strip.png"])) == [True] * 5


def test_a_cashback_card_has_no_strip(
    apple_credentials: AppleTestCredentials, cashback_card: Card
) -> None:
    files = pkpass_files(pkpass_build(wallet_pass=wallet_pass_ensure(card=cashback_card)))
    assert not [name for name in files if name.startswith("strip")]
    assert "icon.png" in files
    assert "logo.png" in files


def _png(size: tuple[int, int], color: RGB) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_programs_logo_is_the_pass_logo_and_icon(
    coloured_program: Program, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    coloured_program.logo.save("logo.png", ContentFile(_png((400, 100), (200, 0, 0))), save=True)
    images = pass_images(_card_with_stamps(coloured_program, 0))
    logo = _image(images["logo.png"]).convert("RGB")
    assert logo.size == (160, 40)
    assert logo.getpixel((80, 20)) == (200, 0, 0)
    assert _image(images["logo@3x.png"]).size == (480, 120)
    icon = _image(images["icon@2x.png"]).convert("RGB")
    assert icon.getpixel((29, 29)) == (200, 0, 0)
    assert icon.getpixel((0, 0)) == BACKGROUND


def test_without_a_logo_the_merchants_initial_is_drawn(coloured_program: Program) -> None:
    images = pass_images(_card_with_stamps(coloured_program, 0))
    logo = _image(images["logo@2x.png"]).convert("RGBA")
    assert logo.size == (100, 100)
    corner = logo.getpixel((0, 0))
    assert isinstance(corner, tuple)
    assert corner[3] == 0  # round: the corners are transparent
    colours = {pixel[:3] for pixel in _pixels(logo) if pixel[3] == 255}
    assert FOREGROUND in colours
    assert BACKGROUND in colours
    icon = _image(images["icon@3x.png"]).convert("RGB")
    assert icon.getpixel((0, 0)) == BACKGROUND
    assert any(_is_foreground(pixel) for pixel in _pixels(icon))


def test_a_logo_file_that_is_gone_falls_back_to_the_initial(
    coloured_program: Program, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    coloured_program.logo.name = "logos/missing.png"
    coloured_program.save()
    images = pass_images(_card_with_stamps(coloured_program, 0))
    assert _image(images["logo.png"]).size == (50, 50)
