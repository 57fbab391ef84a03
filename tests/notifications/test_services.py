"""Services: announcements reach connected and offline users, rollbacks push
nothing, a channel layer that is down loses nothing."""

import logging
import socket

import pytest

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from chat.models import Drama
from notifications import selectors, services
from notifications.models import Announcement, BroadcastRead, Notification
from tests import ws
from tests.notifications.helpers import in_db, settled


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_announcement_to_everyone_is_one_row_and_one_push(
    connect, alice, bob, carol, token_for
):
    a = await connect(token=token_for(alice))
    b = await connect(token=token_for(bob))
    for comm in (a, b):
        await settled(comm)

    announcement = await in_db(
        services.announcement_create, title="系统维护", content="今晚 2 点"
    )

    rows = [n async for n in Notification.objects.all()]
    assert len(rows) == 1 and rows[0].recipient_id is None
    for comm in (a, b):
        got = await ws.recv(comm)
        assert got["type"] == "notification"
        assert got["data"] == {
            "id": str(rows[0].pk),
            "type": "system",
            "title": "系统维护",
            "content": "今晚 2 点",
            "timestamp": got["data"]["timestamp"],
            "read": False,
            "extra": {"announcementId": str(announcement.pk)},
        }
    # Carol was offline: it is in her inbox and her next connection's summary.
    c = await connect(token=token_for(carol))
    assert (await settled(c))["data"] == {"unread": 1, "latestId": str(rows[0].pk)}
    page, _ = await in_db(
        selectors.notification_page, user=carol, before=None, limit=10, unread_only=1
    )
    assert [n["title"] for n in page] == ["系统维护"]


@pytest.mark.django_db
def test_the_cost_of_an_announcement_does_not_grow_with_users(django_user_model):
    def queries_of_one_announcement() -> int:
        with CaptureQueriesContext(connection) as queries:
            services.announcement_create(title="t", content="c")
        return len(queries)

    before = queries_of_one_announcement()
    django_user_model.objects.bulk_create(
        [django_user_model(username=f"many-{i}") for i in range(500)]
    )
    assert queries_of_one_announcement() == before
    assert Notification.objects.count() == 2


@pytest.mark.django_db
def test_users_who_join_after_an_announcement_do_not_get_it(make_user):
    services.announcement_create(title="old news", content="-")
    newcomer = make_user("newcomer")
    assert selectors.notification_summary(user=newcomer) == {
        "unread": 0,
        "latestId": None,
    }


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_announcement_to_chosen_users_reaches_them_only(
    connect, alice, bob, carol, token_for
):
    a = await connect(token=token_for(alice))
    b = await connect(token=token_for(bob))
    for comm in (a, b):
        await settled(comm)

    await in_db(
        services.announcement_create,
        title="创作者通知",
        content="-",
        recipients=[alice, carol],
    )

    got = await ws.recv(a)
    assert got["type"] == "notification" and got["data"]["title"] == "创作者通知"
    assert await ws.nothing_more(b)
    recipients = {n.recipient_id async for n in Notification.objects.all()}
    assert recipients == {alice.pk, carol.pk}


@pytest.mark.django_db
def test_publishing_twice_sends_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        announcement = services.announcement_create(title="t", content="c")
        services.announcement_publish(announcement=announcement)
    assert Notification.objects.count() == 1
    assert len(callbacks) == 1


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_rolled_back_notification_is_neither_stored_nor_pushed(
    connect, alice, token_for
):
    a = await connect(token=token_for(alice))
    await settled(a)

    def create_then_fail() -> None:
        with transaction.atomic():
            services.notification_create(
                recipient_id=alice.pk, type="like", title="赞", content="-"
            )
            services.announcement_create(title="公告", content="-")
            raise RuntimeError("later step failed")

    with pytest.raises(RuntimeError):
        await in_db(create_then_fail)

    assert await ws.nothing_more(a, timeout=0.5)
    assert not await Notification.objects.aexists()
    assert not await Announcement.objects.aexists()


@pytest.mark.django_db
def test_mark_read_and_read_all(alice, bob):
    mine = [
        services.notification_create(
            recipient_id=alice.pk, type="follow", title=f"f{i}", content="-"
        )
        for i in range(3)
    ]
    services.notification_create(
        recipient_id=bob.pk, type="follow", title="bob", content="-"
    )
    services.announcement_create(title="a1", content="-")
    broadcast = Notification.objects.get(recipient=None)

    services.notification_mark_read(user=alice, notification_id=str(mine[0].pk))
    services.notification_mark_read(user=alice, notification_id=str(broadcast.pk))
    services.notification_mark_read(user=alice, notification_id=str(broadcast.pk))

    assert selectors.notification_summary(user=alice)["unread"] == 2
    assert selectors.notification_summary(user=bob)["unread"] == 2  # bob's own + a1
    assert BroadcastRead.objects.filter(user=alice).count() == 1
    up_to = services.notifications_mark_all_read(user=alice, up_to=mine[1].pk)
    assert up_to == 1
    assert services.notifications_mark_all_read(user=alice) == 1
    assert selectors.notification_summary(user=alice)["unread"] == 0
    assert selectors.notification_summary(user=bob)["unread"] == 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def layer_down(settings):
    """Point the channel layer at a Redis port nothing listens on."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{free_port()}/0"]},
        }
    }


def push_failures(caplog) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "realtime.pushes" and r.levelno >= logging.ERROR
    ]


@pytest.mark.django_db(transaction=True)
def test_layer_down_the_announcement_still_commits_and_is_logged_once(
    layer_down, admin_client, caplog, alice
):
    response = admin_client.post(
        "/admin/notifications/announcement/add/",
        {"title": "维护", "content": "今晚", "audience": "everyone"},
    )

    assert response.status_code == 302
    assert Notification.objects.filter(recipient=None, title="维护").count() == 1
    assert len(push_failures(caplog)) == 1
    assert selectors.notification_summary(user=alice)["unread"] == 1


@pytest.mark.django_db(transaction=True)
def test_layer_down_a_review_still_commits_and_is_logged_once(
    layer_down, caplog, alice, make_drama
):
    drama, _room = make_drama(alice)
    drama.status = Drama.Status.APPROVED

    drama.save()

    # Two batches failed (drama_update, the notification): one line each.
    assert len(push_failures(caplog)) == 2
    assert Drama.objects.get(pk=drama.pk).status == "approved"
    assert Notification.objects.get(recipient=alice).type == "review"
