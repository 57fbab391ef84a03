"""What a user does on the page, for the browser tests."""

import re

from tests.servers import PASSWORD

try:
    from playwright.sync_api import Page
except ImportError:  # the tests skip (conftest.py)
    Page = object

NO_PLAYWRIGHT = "needs the playwright package: pip install -r requirements.txt"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def sign_in(page: Page, username: str, password: str = PASSWORD) -> Page:
    """Sign in through the form and wait until the socket is connected."""
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click("#login-submit")
    page.wait_for_selector("#conn.on")
    return page


def open_room(page: Page, room_id: str) -> Page:
    """Pick a room in the list (opening the drawer on a phone) and wait for the join."""
    phone = page.viewport_size["width"] <= 760
    if phone and not page.locator("#app.rooms-open").count():
        page.click("#rooms-toggle")
    page.click(f"#room-list button[data-room-id='{room_id}']")
    page.wait_for_selector("#room-main[data-state='joined']")
    return page


def send(page: Page, text: str) -> None:
    page.fill("#composer-input", text)
    page.press("#composer-input", "Enter")


def message(page: Page, text: str):
    """The stored messages (they have an id) whose bubble reads exactly `text`."""
    exact = re.compile(f"^{re.escape(text)}$")
    return page.locator("#messages li.msg[data-id] .bubble").filter(has_text=exact)
