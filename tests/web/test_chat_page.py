"""The chat page as people use it: two users in two browsers, refused sends,
Chinese messages, markup shown as text, a reload, a phone."""

import json
import re
import time
import uuid

import pytest
from websockets.sync.client import connect

from tests.web.helpers import NO_PLAYWRIGHT, PHONE, message, open_room, send, sign_in

expect = pytest.importorskip("playwright.sync_api", reason=NO_PLAYWRIGHT).expect

CIRCLE = "circle-heluo"  # made by seed_demo
LIVE = "live-heluo"


def tag() -> str:
    return uuid.uuid4().hex[:6]


def test_two_users_chat_live(web_server, new_page):
    """Each sees the other's message once, their own one as sent, and who is in."""
    alice = sign_in(new_page(web_server, name="alice"), "alice")
    bob = sign_in(new_page(web_server, name="bob"), "bob")
    open_room(alice, CIRCLE)
    open_room(bob, CIRCLE)
    expect(alice.locator("#messages .sysline").last).to_have_text("Bob 进入了房间")
    expect(alice.locator("#room-online")).to_have_text("2 人在线")
    expect(alice.locator(f"#room-list [data-room-id='{CIRCLE}']")).to_contain_text(
        "2 人在线"
    )

    hello = f"你好，Bob！{tag()}"
    send(alice, hello)
    expect(message(bob, hello)).to_have_count(1)
    expect(message(alice, hello)).to_have_count(1)
    expect(alice.locator("#messages li.msg.own[data-id] .bubble").last).to_have_text(
        hello
    )
    expect(alice.locator("#messages li.pending, #messages li.failed")).to_have_count(0)
    assert alice.locator("#composer-input").input_value() == ""

    reply = f"你好 Alice {tag()}"
    send(bob, reply)
    expect(message(alice, reply)).to_have_count(1)
    expect(message(alice, reply).locator("xpath=..")).not_to_have_class(
        re.compile("own")
    )


def test_markup_in_a_message_is_shown_as_text(web_server, new_page):
    """A chat that looks like HTML is text on the other side: no element, no script."""
    alice = sign_in(new_page(web_server, name="alice"), "alice")
    bob = sign_in(new_page(web_server, name="bob"), "bob")
    open_room(alice, CIRCLE)
    open_room(bob, CIRCLE)
    payload = f'<img src=x onerror="window.__owned=1"><b>粗体</b> {tag()}'
    send(alice, payload)
    expect(message(bob, payload)).to_have_count(1)
    assert bob.locator("#messages img, #messages b, #toasts img").count() == 0
    assert bob.evaluate("window.__owned") is None
    assert alice.evaluate("window.__owned") is None


def test_a_refused_send_is_marked_failed_keeps_the_text_and_retries(
    web_server, new_page
):
    """Slow mode (3 s on this server) refuses the second chat: its bubble keeps the
    text, says why in Chinese, and offers a retry that waits out the slow mode and
    then sends it."""
    alice = sign_in(new_page(web_server, name="alice"), "alice")
    open_room(alice, LIVE)
    first, second = f"第一条 {tag()}", f"第二条 {tag()}"
    send(alice, first)
    expect(message(alice, first)).to_have_count(1)
    send(alice, second)

    failed = alice.locator("#messages li.msg.failed")
    expect(failed).to_have_count(1)
    expect(failed.locator(".bubble")).to_have_text(second)
    expect(failed.locator(".why")).to_contain_text("发送太频繁，请")
    assert "rate_limited" not in failed.inner_text()
    retry = failed.locator("button.retry")
    expect(retry).to_be_disabled()
    expect(retry).to_contain_text("秒")
    expect(retry).to_be_enabled(timeout=6000)
    retry.click()
    expect(message(alice, second)).to_have_count(1)
    expect(alice.locator("#messages li.msg.failed")).to_have_count(0)


def test_a_too_long_message_is_explained_and_edit_gives_the_text_back(
    web_server, new_page
):
    """Too long cannot succeed by retrying: no retry, and Edit puts it back."""
    alice = sign_in(new_page(web_server, name="alice"), "alice")
    open_room(alice, CIRCLE)
    text = "长" * 2000 + "!"
    send(alice, text)
    failed = alice.locator("#messages li.msg.failed")
    expect(failed.locator(".why")).to_contain_text("消息太长了")
    assert failed.locator("button.retry").count() == 0
    failed.locator("button.edit").click()
    expect(alice.locator("#composer-input")).to_have_value(text)
    expect(failed).to_have_count(0)


def test_a_wrong_password_is_explained_in_chinese(web_server, new_page):
    page = new_page(web_server)
    page.fill("#login-username", "alice")
    page.fill("#login-password", "not-the-password")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_have_text("用户名或密码错误")
    expect(page.locator("#app")).to_be_hidden()


def test_a_reload_keeps_the_room_and_the_draft(web_server, new_page):
    """The room (and what was typed but not sent) survive a reload; no new sign-in."""
    drama = web_server.api("GET", "/api/rooms/?type=drama_chat").json()[0]
    alice = sign_in(new_page(web_server, name="alice"), "alice")
    open_room(alice, drama["roomId"])
    alice.fill("#composer-input", "还没发出去的话")
    alice.reload()
    expect(alice.locator("#room-main")).to_have_attribute("data-state", "joined")
    expect(alice.locator("#room-title")).to_have_text(drama["title"])
    expect(
        alice.locator(f"#room-list [data-room-id='{drama['roomId']}']")
    ).to_have_attribute("aria-current", "true")
    expect(alice.locator("#composer-input")).to_have_value("还没发出去的话")
    assert alice.url.endswith(f"#room={drama['roomId']}")


def test_on_a_phone_the_input_stays_on_screen(web_server, new_page):
    """At 390x844 a long conversation scrolls inside its pane: the page itself does
    not scroll, and the input and its send button stay in view."""
    token = web_server.tokens["bob"]
    texts = [f"手机测试 {n} {tag()}" for n in range(30)]
    with connect(f"ws://127.0.0.1:{web_server.port}/ws?token={token}") as bob:
        bob.send(json.dumps({"type": "join_room", "data": {"roomId": CIRCLE}}))
        for n, text in enumerate(texts):
            chat = {"roomId": CIRCLE, "message": text, "clientMsgId": f"m{n}"}
            bob.send(json.dumps({"type": "chat", "data": chat}))
            time.sleep(0.12)  # under the per-socket flood limit (10 a second)
        seen = 0
        while seen < len(texts):
            frame = json.loads(bob.recv(timeout=10))
            assert frame["type"] != "error", frame
            seen += frame["type"] == "chat"

    alice = sign_in(new_page(web_server, viewport=PHONE, name="alice"), "alice")
    open_room(alice, CIRCLE)
    expect(message(alice, texts[-1])).to_be_in_viewport()
    for selector in ("#composer-input", "#composer-send", ".room-head"):
        box = alice.locator(selector).bounding_box()
        assert box is not None and box["y"] >= 0, selector
        assert box["y"] + box["height"] <= PHONE["height"], (selector, box)
    assert alice.evaluate("document.scrollingElement.scrollHeight <= innerHeight"), (
        "the page itself scrolls"
    )
    assert alice.evaluate(
        "(s => s.scrollHeight > s.clientHeight)(document.getElementById('scroller'))"
    ), "the message pane does not scroll"

    mine = f"手机上发的 {tag()}"
    send(alice, mine)
    expect(message(alice, mine)).to_be_in_viewport()
    box = alice.locator("#composer-input").bounding_box()
    assert box["y"] + box["height"] <= PHONE["height"]


def test_an_expired_session_returns_to_sign_in_with_the_reason(web_server, new_page):
    """A stored token the server refuses (auth_error, close 4001) gets one refresh;
    a refused refresh ends the session: the sign-in form says why, in Chinese, and
    the page does not keep reconnecting."""
    page = new_page(web_server, name="alice")
    page.evaluate(
        """() => {
            localStorage.setItem('yyc3.username', 'alice');
            localStorage.setItem('yyc3.access', 'x.eyJleHAiOjQxMDI0NDQ4MDB9.x');
            localStorage.setItem('yyc3.refresh', 'not-a-refresh-token');
        }"""
    )
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket))
    page.reload()
    expect(page.locator("#login-error")).to_have_text("登录已过期，请重新登录")
    expect(page.locator("#login-username")).to_have_value("alice")
    assert page.evaluate("localStorage.getItem('yyc3.access')") is None
    page.wait_for_timeout(1500)
    assert len(sockets) == 1, "the page kept reconnecting after the session ended"
    sign_in(page, "alice")
