"""The counter in a browser: the camera reads a card's QR code and opens its counter view, where a
change is one tap away; a refused camera leaves the typed field, and a barcode scanner typing
into the customers search opens the card too.

The camera is Chromium's fake capture device playing a video made here: a frame with the card's
QR code, as a phone held up to the customer's card would see it. Chromium on Linux has no
BarcodeDetector, so the page reads the frames with the vendored jsQR.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import segno
from PIL import Image
from playwright.sync_api import expect

from cards.models import Card
from cards.selectors import card_install_url
from tests.e2e.conftest import BROWSER_ARGS, CHROMIUM, _sign_in

pytestmark = pytest.mark.django_db(transaction=True)

WIDTH, HEIGHT = 640, 480


def qr_image(text: str) -> Image.Image:
    """``text`` as a QR code (a full one, as the wallet passes show: never a Micro QR)."""
    png = io.BytesIO()
    segno.make_qr(text, error="m").save(png, kind="png", scale=8, border=4)
    return Image.open(io.BytesIO(png.getvalue()))


def qr_video(path: Path, code: Image.Image, frames: int = 2) -> Path:
    """A Y4M video (the format Chromium's fake camera plays) of the picture of a code, three
    quarters of the height of a white 640x480 frame, in its middle."""
    side = HEIGHT * 3 // 4
    code = code.convert("RGB").resize((side, side), Image.Resampling.NEAREST)
    frame = Image.new("RGB", (WIDTH, HEIGHT), "white")
    frame.paste(code, ((WIDTH - side) // 2, (HEIGHT - side) // 2))
    # Full-range YCbCr (what Pillow makes) with 4:2:0 chroma: the header's C420jpeg.
    luma, blue, red = frame.convert("YCbCr").split()
    half = (WIDTH // 2, HEIGHT // 2)
    planes = luma.tobytes() + blue.resize(half).tobytes() + red.resize(half).tobytes()
    with path.open("wb") as video:
        video.write(
            f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F30:1 Ip A1:1 C420jpeg XYSCSS=420JPEG\n".encode()
        )
        for _ in range(frames):
            video.write(b"FRAME\n" + planes)
    return path


def card_page_code(browser: Any, live_server: Any, card: Card) -> Image.Image:
    """The QR code the customer's card page shows, as a screenshot of it."""
    context = browser.new_context(base_url=live_server.url)
    try:
        page = context.new_page()
        page.goto(f"/c/{card.install_token}/")
        return Image.open(io.BytesIO(page.locator(".card-qr svg").screenshot()))
    finally:
        context.close()


@pytest.fixture
def camera_page(browser: Any, live_server: Any) -> Iterator[Callable[..., Any]]:
    """``camera_page(video=None, allow=True)``: a page in a Chromium of its own whose camera
    plays ``video`` (no camera device at all without one), the camera allowed or refused."""
    launched = []

    def _page(video: Path | None = None, *, allow: bool = True) -> Any:
        args = [*BROWSER_ARGS]
        if video is not None:
            args += [
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={video}",
            ]
        if allow:
            args.append("--use-fake-ui-for-media-stream")  # says yes to the camera prompt
        # The session's Playwright launches it: a second one cannot run in this thread.
        chromium = browser.browser_type.launch(executable_path=CHROMIUM, headless=True, args=args)
        launched.append(chromium)
        context = chromium.new_context(base_url=live_server.url)
        if not allow:
            context.clear_permissions()
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield _page
    for chromium in launched:
        chromium.close()


def _metric(page: Any, key: str) -> Any:
    return page.locator(f'#counter-summary [data-metric="{key}"]')


@pytest.mark.parametrize("shown", ["card page", "wallet pass", "install link"])
def test_the_camera_reads_the_cards_code_and_a_change_is_one_tap_away(
    camera_page: Any,
    browser: Any,
    live_server: Any,
    staff: Any,
    stamp_card: Card,
    tmp_path: Path,
    shown: str,
) -> None:
    # The card page's own code, the serial a wallet pass shows, the link of the card's page.
    if shown == "card page":
        code = card_page_code(browser, live_server, stamp_card)
    elif shown == "wallet pass":
        code = qr_image(stamp_card.serial)
    else:
        code = qr_image(card_install_url(stamp_card))
    page = camera_page(qr_video(tmp_path / "card.y4m", code))
    _sign_in(page, staff)
    page.goto("/scan/")

    page.wait_for_url(f"**/cards/{stamp_card.serial}/counter/")
    expect(page.locator("[data-card-serial]")).to_have_text(stamp_card.serial)
    expect(_metric(page, "stamps_balance")).to_have_attribute("data-value", "0")

    page.click('[data-action="stamps_add"]')
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    dialog.locator('input[name="value"]').fill("3")
    dialog.get_by_role("button", name="Apply").click()

    expect(page.locator("dialog")).to_have_count(0)
    message = page.locator("[data-counter-message]")
    expect(message).to_be_visible()
    expect(message).to_contain_text("+3 stamps")
    expect(_metric(page, "stamps_balance")).to_have_attribute("data-value", "3")
    next_card = page.locator('[data-action="scan_next"]')
    expect(next_card).to_be_visible()
    expect(next_card).to_be_focused()
    expect(next_card).to_have_attribute("href", "/scan/")
    assert stamp_card.entries.filter(kind="stamps_added").count() == 1


def test_a_code_that_is_no_card_is_explained_and_the_camera_keeps_looking(
    camera_page: Any, staff: Any, tmp_path: Path
) -> None:
    page = camera_page(qr_video(tmp_path / "poster.y4m", qr_image("https://example.com/menu")))
    _sign_in(page, staff)
    page.goto("/scan/")
    page.wait_for_url("**/scan/?code=*")
    expect(page.locator('[data-scan-outcome="unknown"]')).to_be_visible()
    expect(page.locator("#scan-code")).to_have_value("https://example.com/menu")
    # The same code still in view is read again and set aside: the page stays, the camera on.
    expect(page.locator("[data-scanner-status][data-same-code]")).to_contain_text(
        "This is the code explained above"
    )
    assert "/scan/?code=" in page.url
    expect(page.locator("[data-scanner-camera]")).to_be_visible()


def test_a_refused_camera_says_so_and_the_typed_code_still_opens_the_card(
    camera_page: Any, staff: Any, stamp_card: Card, tmp_path: Path
) -> None:
    page = camera_page(qr_video(tmp_path / "card.y4m", qr_image(stamp_card.serial)), allow=False)
    _sign_in(page, staff)
    page.goto("/scan/")
    problem = page.locator("[data-scanner-problem]")
    expect(problem).to_be_visible()
    expect(problem).to_contain_text("camera")
    expect(page.locator("[data-scanner-camera]")).to_be_hidden()

    field = page.locator("#scan-code")
    expect(field).to_be_focused()
    # A barcode scanner is a keyboard: the code, then Enter.
    field.type(stamp_card.serial.replace("-", ""))
    field.press("Enter")
    page.wait_for_url(f"**/cards/{stamp_card.serial}/counter/")


def test_without_a_camera_the_page_says_so(camera_page: Any, staff: Any) -> None:
    page = camera_page(None)
    _sign_in(page, staff)
    page.goto("/scan/")
    expect(page.locator("[data-scanner-problem]")).to_be_visible()
    expect(page.locator("#scan-code")).to_be_editable()


def test_a_barcode_scanner_in_the_customers_search_opens_the_card(
    page: Any, login: Any, staff: Any, stamp_card: Card
) -> None:
    login(staff)
    page.goto("/customers/")
    search = page.locator("input[name=q]")
    search.click()
    search.type(stamp_card.serial)
    search.press("Enter")
    page.wait_for_url(f"**/cards/{stamp_card.serial}/counter/")
    expect(page.locator("[data-card-serial]")).to_have_text(stamp_card.serial)


def test_the_scanner_works_without_javascript(
    login_without_javascript: Any, staff: Any, stamp_card: Card
) -> None:
    page = login_without_javascript(staff)
    page.goto("/scan/")
    page.fill("#scan-code", stamp_card.serial)
    page.get_by_role("button", name="Open card").click()
    page.wait_for_url(f"**/cards/{stamp_card.serial}/counter/")
    expect(page.locator('[data-action="stamps_add"]')).to_have_attribute(
        "href", f"/cards/{stamp_card.serial}/dialogs/stamps_add/?from=counter"
    )


def test_the_counter_fits_a_phone(
    browser: Any, live_server: Any, staff: Any, stamp_card: Card
) -> None:
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    try:
        page = context.new_page()
        _sign_in(page, staff)
        for url in ("/scan/", f"/cards/{stamp_card.serial}/counter/"):
            page.goto(url)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, url
        for button in page.locator(".counter-actions [role=button], .counter-scan-next").all():
            box = button.bounding_box()
            assert box is not None
            assert box["height"] >= 44
    finally:
        context.close()
