"""What the page does when the world changes under it: the server restarts, a
moderator removes a message, mutes, bans, closes the room."""

import re
import uuid

import pytest

from tests.web.helpers import NO_PLAYWRIGHT, message, open_room, send, sign_in

expect = pytest.importorskip("playwright.sync_api", reason=NO_PLAYWRIGHT).expect

CIRCLE = "circle-heluo"


def tag() -> str:
    return uuid.uuid4().hex[:6]


def test_after_a_server_restart_the_page_shows_what_was_sent_meanwhile_once(
    own_web_server, new_page
):
    """The server restarts; Bob is back first and writes twice while Alice's page
    still cannot reach it (her sockets are refused in the browser). Once it can,
    her page reconnects, re-joins the room and shows both messages, and nothing
    it had already shown, a second time."""
    server = own_web_server
    blocked = {"on": False}

    def gate(route):
        if blocked["on"]:
            route.close(code=1011)
        else:
            route.connect_to_server()

    alice = sign_in(
        new_page(
            server,
            name="alice",
            setup=lambda ctx: ctx.route_web_socket(re.compile(r"/ws"), gate),
        ),
        "alice",
    )
    bob = sign_in(new_page(server, name="bob"), "bob")
    open_room(alice, CIRCLE)
    open_room(bob, CIRCLE)
    before = f"重启前 {tag()}"
    send(bob, before)
    expect(message(alice, before)).to_have_count(1)

    blocked["on"] = True
    server.restart()
    expect(bob.locator("#conn")).to_have_class(re.compile(r"\bon\b"), timeout=40000)
    expect(bob.locator("#room-main")).to_have_attribute("data-state", "joined")
    meanwhile = [f"重启期间 {n} {tag()}" for n in range(2)]
    for text in meanwhile:
        send(bob, text)
        expect(message(bob, text)).to_have_count(1)
    expect(alice.locator("#conn")).to_have_class(re.compile(r"\boff\b"))
    expect(alice.locator("#composer-hint")).to_contain_text("未连接")
    for text in meanwhile:
        expect(message(alice, text)).to_have_count(0)

    blocked["on"] = False
    alice.click("#conn-retry")
    expect(alice.locator("#conn")).to_have_class(re.compile(r"\bon\b"))
    for text in meanwhile:
        expect(message(alice, text)).to_have_count(1)
    # A live message after the catch-up: everything before it has arrived.
    after = f"重启后 {tag()}"
    send(bob, after)
    expect(message(alice, after)).to_have_count(1)
    for text in (before, *meanwhile):
        expect(message(alice, text)).to_have_count(1)
    ids = alice.eval_on_selector_all(
        "#messages li.msg[data-id]", "nodes => nodes.map(n => n.dataset.id)"
    )
    assert ids == sorted(ids) and len(ids) == len(set(ids))


def admin_action(page, server, path: str, search: str, action: str) -> None:
    """Run a Django admin action on the rows a changelist search finds."""
    page.goto(f"{server.url}/admin/{path}/?q={search}")
    page.check("#action-toggle")
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")
    expect(page.locator("ul.messagelist li.success")).to_have_count(1)


def sanction_senders(page, server, search: str, action: str, duration: str) -> None:
    """Mute or ban the senders of the messages a search finds: the action's form
    (scope, duration, reason), then its result."""
    page.goto(f"{server.url}/admin/chat/chatmessage/?q={search}")
    page.check("#action-toggle")
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")
    page.check("input[name=scope][value=room]")
    page.select_option("select[name=duration]", duration)
    page.fill("input[name=reason]", "测试")
    page.click("#sanction-form input[type=submit]")
    expect(page.locator("ul.messagelist li.success")).to_have_count(1)


def test_moderation_reaches_the_page(own_web_server, new_page):
    """Hide, mute, ban and close from Django admin, each seen on the page at once:
    the message is replaced, Bob's send fails with the mute in Chinese and his
    input locks, the ban disconnects him and keeps him out, Alice's room closes."""
    server = own_web_server
    alice = sign_in(new_page(server, name="alice"), "alice")
    bob = sign_in(new_page(server, name="bob"), "bob")
    open_room(alice, CIRCLE)
    open_room(bob, CIRCLE)
    moderator = new_page(server, name="moderator")
    moderator.goto(f"{server.url}/admin/login/?next=/admin/")
    moderator.fill("#id_username", "moderator")
    moderator.fill("#id_password", "demo12345")
    moderator.click("input[type=submit]")

    doomed = f"要被删除的消息 {tag()}"
    send(bob, doomed)
    expect(message(alice, doomed)).to_have_count(1)
    admin_action(moderator, server, "chat/chatmessage", doomed, "hide_messages")
    expect(message(alice, doomed)).to_have_count(0)
    expect(alice.locator("#messages li.msg.deleted .bubble")).to_have_text(
        "此消息已被管理员删除"
    )

    sanction_senders(moderator, server, doomed, "mute_senders", "10m")
    muted = f"我被禁言了吗 {tag()}"
    send(bob, muted)
    failed = bob.locator("#messages li.msg.failed")
    expect(failed.locator(".why")).to_contain_text("你已被禁言")
    expect(failed.locator(".bubble")).to_have_text(muted)
    expect(bob.locator("#room-notice")).to_contain_text("你已被禁言")
    expect(bob.locator("#composer-input")).to_be_disabled()
    expect(message(alice, muted)).to_have_count(0)

    sanction_senders(moderator, server, doomed, "ban_senders", "1d")
    expect(bob.locator("#conn")).to_have_text("你已被管理员移出房间，连接已断开")
    expect(bob.locator("#room-notice")).to_contain_text("你已被管理员移出房间")
    expect(bob.locator("#composer-input")).to_be_disabled()
    bob.click("#conn-retry")
    expect(bob.locator("#conn")).to_have_text("已连接")
    expect(bob.locator("#room-main")).to_have_attribute("data-state", "forbidden")
    expect(bob.locator("#room-notice")).to_have_text("你已被禁止进入此房间")
    expect(bob.locator("#composer-input")).to_be_disabled()

    admin_action(moderator, server, "chat/room", CIRCLE, "close_rooms")
    expect(alice.locator("#room-main")).to_have_attribute("data-state", "closed")
    expect(alice.locator("#room-notice")).to_contain_text("房间已关闭")
    expect(alice.locator("#composer-input")).to_be_disabled()
    expect(alice.locator(f"#room-list [data-room-id='{CIRCLE}']")).to_contain_text(
        "已关闭"
    )
