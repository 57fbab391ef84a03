"""What each room type shows: danmaku over a drama's timeline, a live room's
viewers and danmaku, the assistant's reply as it streams, the notification inbox."""

import uuid

import pytest

from tests.web.helpers import NO_PLAYWRIGHT, message, open_room, send, sign_in

expect = pytest.importorskip("playwright.sync_api", reason=NO_PLAYWRIGHT).expect

LIVE = "live-heluo"
ASSISTANT = "ai-alice"


def tag() -> str:
    return uuid.uuid4().hex[:6]


def drama_room(server) -> dict:
    return server.api("GET", "/api/rooms/?type=drama_chat").json()[0]


def seek(page, ms: int) -> None:
    page.eval_on_selector(
        "#seek",
        "(el, ms) => { el.value = String(ms); el.dispatchEvent(new Event('input')); }",
        ms,
    )


def danmaku(page, text: str):
    return page.locator("#danmaku .dm", has_text=text)


def test_danmaku_flies_at_its_playback_position_and_replays_after_a_seek(
    web_server, new_page
):
    """Alice comments two seconds into episode 1; the comment flies over her screen
    at once, is stored with its position, flies over Bob's when his playhead
    reaches it, and again after he seeks back."""
    room = drama_room(web_server)
    alice = sign_in(new_page(web_server, name="alice"), "alice")
    open_room(alice, room["roomId"])
    expect(alice.locator("#player")).to_be_visible()
    seek(alice, 2000)
    comment = f"前方高能 {tag()}"
    send(alice, comment)
    expect(danmaku(alice, comment)).to_have_count(1)
    mine = message(alice, comment).locator("xpath=..")
    expect(mine.locator(".anchor")).to_have_text("第1集 00:02")

    bob = sign_in(new_page(web_server, name="bob"), "bob")
    open_room(bob, room["roomId"])
    expect(bob.locator("#clock")).to_contain_text("00:00 / 20:00")
    expect(danmaku(bob, comment)).to_have_count(0)
    bob.click("#play")
    expect(bob.locator("#play")).to_have_attribute("aria-label", "暂停")
    expect(danmaku(bob, comment)).to_have_count(1, timeout=8000)
    # Off: the layer hides, and what passes meanwhile is not shown.
    bob.click("#danmaku-on")
    expect(bob.locator("#danmaku")).to_be_hidden()
    bob.click("#danmaku-on")
    seek(bob, 0)
    expect(danmaku(bob, comment)).to_have_count(0)
    expect(danmaku(bob, comment)).to_have_count(1, timeout=8000)


def test_live_room_shows_viewers_and_danmaku(web_server, new_page):
    alice = sign_in(new_page(web_server, name="alice"), "alice")
    bob = sign_in(new_page(web_server, name="bob"), "bob")
    open_room(alice, LIVE)
    open_room(bob, LIVE)
    expect(alice.locator("#live-badge")).to_have_text("直播中")
    expect(alice.locator("#viewers")).to_have_text("2 人在看")
    expect(alice.locator("#player")).to_be_hidden()
    comment = f"主播好 {tag()}"
    send(bob, comment)
    expect(danmaku(alice, comment)).to_have_count(1)
    expect(message(alice, comment)).to_have_count(1)
    bob.context.close()
    expect(alice.locator("#viewers")).to_have_text("1 人在看")


def test_the_assistant_reply_streams_then_stays(web_server, new_page):
    """The reply shows piece by piece in a bubble of its own, which then becomes
    the stored message (once)."""
    alice = sign_in(new_page(web_server, name="alice"), "alice")
    open_room(alice, ASSISTANT)
    send(alice, "河图洛书是什么？")
    expect(alice.locator("#messages li.msg.ai.streaming")).to_have_count(1)
    stored = alice.locator("#messages li.msg.ai[data-id]")
    expect(stored).to_have_count(1, timeout=15000)
    expect(stored.locator(".bubble")).to_contain_text("河图")
    expect(alice.locator("#messages li.msg.ai.streaming")).to_have_count(0)
    expect(stored.locator(".name")).to_have_text("AI助手")


def admin_page(new_page, server):
    page = new_page(server, name="moderator")
    page.goto(f"{server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "moderator")
    page.fill("#id_password", "demo12345")
    page.click("input[type=submit]")
    page.wait_for_url(f"{server.url}/admin/")
    return page


def test_notification_inbox_and_drama_status_in_chinese(own_web_server, new_page):
    """A moderator's announcement reaches Alice live: the bell counts it, the inbox
    lists it, and marking it read clears the count (on the server too). Her
    drama's rejection shows its status in Chinese, never as `rejected`."""
    server = own_web_server
    room = drama_room(server)
    alice = sign_in(new_page(server, name="alice"), "alice")
    open_room(alice, room["roomId"])
    expect(alice.locator("#unread")).to_be_hidden()
    moderator = admin_page(new_page, server)

    moderator.goto(f"{server.url}/admin/notifications/announcement/add/")
    moderator.fill("#id_title", "系统维护通知")
    moderator.fill("#id_content", "今晚 23:00 维护 <b>一小时</b>")
    moderator.click("input[name=_save]")
    expect(alice.locator("#unread")).to_have_text("1")
    alice.click("#inbox-toggle")
    item = alice.locator("#inbox-list li", has_text="系统维护通知")
    expect(item).to_have_class("unread")
    expect(item.locator(".n-type")).to_have_text("系统通知")
    expect(item.locator(".n-body")).to_have_text("今晚 23:00 维护 <b>一小时</b>")
    item.locator("button.mark-read").click()
    expect(item).to_have_class("read")
    expect(alice.locator("#unread")).to_be_hidden()
    summary = server.api("GET", "/api/notifications/unread-count/").json()
    assert summary["unread"] == 0
    alice.keyboard.press("Escape")
    expect(alice.locator("#inbox")).to_be_hidden()

    drama_id = room["roomId"].removeprefix("drama-")
    moderator.goto(f"{server.url}/admin/chat/drama/{drama_id}/change/")
    moderator.select_option("#id_status", "rejected")
    moderator.fill("#id_review_note", "画面需要修改")
    moderator.click("input[name=_save]")
    line = alice.locator("#messages .sysline", has_text="已驳回")
    expect(line).to_have_count(1)
    expect(alice.locator("#unread")).to_have_text("1")
    alice.click("#inbox-toggle")
    review = alice.locator("#inbox-list li.unread")
    expect(review).to_contain_text("短剧状态：已驳回")
    for page in (alice,):
        assert "rejected" not in page.locator("body").inner_text()
