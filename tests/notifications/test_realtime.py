"""The socket side of the inbox: live pushes, lastNotificationId catch-up, summary."""

import pytest

from notifications import services
from notifications.models import Notification
from tests import ws
from tests.notifications.helpers import in_db, settled

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def notify(user, title: str, **fields) -> Notification:
    fields.setdefault("type", "comment")
    fields.setdefault("content", f"{title} content")
    return services.notification_create(recipient_id=user.pk, title=title, **fields)


async def test_a_notification_reaches_every_connection_of_its_user_only(
    connect, alice, bob, token_for
):
    a1 = await connect(token=token_for(alice))
    a2 = await connect(token=token_for(alice), query="deviceType=mobile")
    b = await connect(token=token_for(bob))
    for comm in (a1, a2, b):
        await settled(comm)

    made = await in_db(notify, alice, "新评论", extra={"dramaId": "3"})

    for comm in (a1, a2):
        got = await ws.recv(comm)
        assert got == {
            "type": "notification",
            "data": {
                "id": str(made.pk),
                "type": "comment",
                "title": "新评论",
                "content": "新评论 content",
                "timestamp": got["data"]["timestamp"],
                "read": False,
                "extra": {"dramaId": "3"},
            },
        }
        assert got["data"]["timestamp"].endswith("Z")
    assert await ws.nothing_more(b)
    assert await ws.nothing_more(a1)


async def test_summary_after_auth_without_last_notification_id(
    connect, alice, bob, token_for
):
    first = await in_db(notify, alice, "one")
    await in_db(notify, alice, "two")
    latest = await in_db(notify, alice, "three")
    await in_db(notify, bob, "not alice's")
    await in_db(
        services.notification_mark_read, user=alice, notification_id=str(first.pk)
    )

    a = await connect(token=token_for(alice))
    summary = await ws.recv(a)

    assert summary == {
        "type": "notification_summary",
        "data": {"unread": 2, "latestId": str(latest.pk)},
    }
    assert await ws.nothing_more(a)


async def test_summary_of_an_empty_inbox(connect, alice, token_for):
    a = await connect(token=token_for(alice))
    assert (await settled(a))["data"] == {"unread": 0, "latestId": None}


async def test_catch_up_from_the_query_string_sends_newer_ones_oldest_first(
    connect, alice, bob, token_for
):
    seen = await in_db(notify, alice, "seen")
    await in_db(notify, bob, "bob's")
    second = await in_db(notify, alice, "second")
    announcement = await in_db(
        services.announcement_create, title="维护通知", content="今晚维护"
    )
    third = await in_db(notify, alice, "third")
    broadcast = await Notification.objects.aget(announcement=announcement)

    a = await connect(token=token_for(alice), query=f"lastNotificationId={seen.pk}")

    got = [await ws.recv(a) for _ in range(3)]
    assert [f["type"] for f in got] == ["notification"] * 3
    assert [f["data"]["id"] for f in got] == [
        str(second.pk),
        str(broadcast.pk),
        str(third.pk),
    ]
    assert got[1]["data"]["title"] == "维护通知"
    assert got[1]["data"]["type"] == "system"
    assert await ws.nothing_more(a)


async def test_catch_up_from_the_auth_message(connect, alice, token_for):
    seen = await in_db(notify, alice, "seen")
    newer = await in_db(notify, alice, "newer")
    a = await connect(auth=False)

    await ws.send(
        a,
        {
            "type": "auth",
            "token": token_for(alice),
            "clientId": "c-1",
            "lastNotificationId": str(seen.pk),
        },
    )

    assert (await ws.recv(a))["type"] == "auth_success"
    got = await ws.recv(a)
    assert got["type"] == "notification" and got["data"]["id"] == str(newer.pk)
    assert await ws.nothing_more(a)


async def test_catch_up_is_capped_and_then_summarised(
    connect, alice, token_for, settings
):
    settings.NOTIFICATIONS_CATCHUP_LIMIT = 2
    made = [await in_db(notify, alice, f"n{i}") for i in range(4)]

    a = await connect(token=token_for(alice), query="lastNotificationId=0")

    got = [await ws.recv(a) for _ in range(3)]
    assert [f["data"]["id"] for f in got[:2]] == [str(n.pk) for n in made[:2]]
    assert got[2] == {
        "type": "notification_summary",
        "data": {"unread": 4, "latestId": str(made[3].pk)},
    }
    assert await ws.nothing_more(a)


async def test_catch_up_with_nothing_newer_sends_nothing(connect, alice, token_for):
    latest = await in_db(notify, alice, "latest")
    a = await connect(token=token_for(alice), query=f"lastNotificationId={latest.pk}")
    assert await ws.nothing_more(a)


async def test_a_last_notification_id_that_is_not_one_gets_the_summary(
    connect, alice, token_for
):
    await in_db(notify, alice, "x")
    a = await connect(token=token_for(alice), query="lastNotificationId=notif-001")
    assert (await settled(a))["data"]["unread"] == 1


async def test_room_route_sockets_get_the_catch_up_too(
    connect, alice, token_for, make_drama
):
    drama, _ = await in_db(make_drama, alice)
    seen = await in_db(notify, alice, "seen")
    newer = await in_db(notify, alice, "newer")

    a = await connect(
        f"/ws/drama_chat/drama-{drama.pk}/",
        token=token_for(alice),
        query=f"lastNotificationId={seen.pk}",
    )

    got = await ws.recv(a)
    assert got["type"] == "notification" and got["data"]["id"] == str(newer.pk)
