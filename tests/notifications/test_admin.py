"""Announcements sent from the real Django admin (add view), live and to inboxes."""

import pytest
from asgiref.sync import sync_to_async

from django.test import Client

from notifications import selectors
from notifications.models import Announcement, Notification
from tests import ws
from tests.notifications.helpers import settled

ADD_URL = "/admin/notifications/announcement/add/"


@pytest.fixture
def moderator(django_user_model):
    return django_user_model.objects.create_superuser("mod", "mod@example.com", "pw")


@pytest.fixture
def admin_web(moderator) -> Client:
    client = Client()
    client.force_login(moderator)
    return client


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_announcement_from_admin_reaches_connected_and_offline_users(
    connect, alice, bob, carol, token_for, admin_web, moderator
):
    a = await connect(token=token_for(alice))
    b = await connect(token=token_for(bob))
    for comm in (a, b):
        await settled(comm)

    response = await sync_to_async(admin_web.post)(
        ADD_URL,
        {"title": "平台公告", "content": "新功能上线", "audience": "everyone"},
    )

    assert response.status_code == 302, response.content[:2000]
    for comm in (a, b):
        got = await ws.recv(comm)
        assert got["type"] == "notification"
        assert (got["data"]["type"], got["data"]["title"]) == ("system", "平台公告")
        assert got["data"]["content"] == "新功能上线"
    announcement = await Announcement.objects.aget()
    assert announcement.created_by_id == moderator.pk
    # Offline: Carol finds it in her inbox and in her next connection's summary.
    page, _ = await sync_to_async(selectors.notification_page)(
        user=carol, before=None, limit=5, unread_only=True
    )
    assert [n["title"] for n in page] == ["平台公告"]
    c = await connect(token=token_for(carol), query="lastNotificationId=0")
    assert (await ws.recv(c))["data"]["id"] == got["data"]["id"]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_announcement_to_chosen_users_from_admin(
    connect, alice, bob, token_for, admin_web
):
    a = await connect(token=token_for(alice))
    b = await connect(token=token_for(bob))
    for comm in (a, b):
        await settled(comm)

    response = await sync_to_async(admin_web.post)(
        ADD_URL,
        {
            "title": "给创作者",
            "content": "-",
            "audience": "users",
            "recipients": [str(alice.pk)],
        },
    )

    assert response.status_code == 302
    got = await ws.recv(a)
    assert got["type"] == "notification" and got["data"]["title"] == "给创作者"
    assert await ws.nothing_more(b)
    assert [n.recipient_id async for n in Notification.objects.all()] == [alice.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "audience, with_recipient", [("users", False), ("everyone", True)]
)
def test_the_audience_and_recipients_must_agree(
    admin_web, alice, audience, with_recipient
):
    form = {"title": "t", "content": "c", "audience": audience}
    if with_recipient:
        form["recipients"] = [str(alice.pk)]

    response = admin_web.post(ADD_URL, form)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["recipients"]
    assert not Announcement.objects.exists()
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_a_sent_announcement_cannot_be_edited(admin_web):
    admin_web.post(ADD_URL, {"title": "t", "content": "c", "audience": "everyone"})
    announcement = Announcement.objects.get()
    url = f"/admin/notifications/announcement/{announcement.pk}/change/"

    assert admin_web.get(url).status_code == 200  # view only
    response = admin_web.post(
        url, {"title": "changed", "content": "c", "audience": "everyone"}
    )

    assert response.status_code == 403
    assert Announcement.objects.get().title == "t"


@pytest.mark.django_db
def test_the_drama_admin_fires_the_same_review_notification(
    admin_web, alice, make_drama
):
    drama, _room = make_drama(alice)

    url = f"/admin/chat/drama/{drama.pk}/change/"
    form = admin_web.get(url).context["adminform"].form
    data = {
        name: "" if value is None else str(value)
        for name, value in form.initial.items()
        if name in form.fields
    }
    data.update(status="rejected", review_note="时长不足")

    response = admin_web.post(url, data)

    assert response.status_code == 302, response.content[:3000]
    note = Notification.objects.get(recipient=alice)
    assert note.content == "您的短剧《河洛传奇》未通过审核，原因：时长不足"


@pytest.mark.django_db
def test_notifications_cannot_be_written_by_hand_in_admin(admin_web, alice):
    response = admin_web.post(
        "/admin/notifications/notification/add/",
        {"recipient": str(alice.pk), "type": "system", "title": "t", "content": "c"},
    )

    assert response.status_code == 403
    assert admin_web.get("/admin/notifications/notification/").status_code == 200
