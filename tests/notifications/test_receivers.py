"""drama_update and review notifications from Drama saves, by any path."""

import pytest
import pytest_asyncio

from django.db import transaction

from chat.models import Drama
from notifications.models import Notification
from tests import ws
from tests.notifications.helpers import in_db, settled

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

SKIP = ("user_joined", "presence")


@pytest_asyncio.fixture
async def scene(connect, alice, bob, carol, token_for, make_drama):
    """Alice owns a pending drama; Bob is in its room; Carol is connected elsewhere."""
    drama, room = await in_db(make_drama, alice, title="河洛传奇")
    owner = await connect(token=token_for(alice))
    viewer = await connect(token=token_for(bob))
    other = await connect(token=token_for(carol))
    for comm in (owner, viewer, other):
        await settled(comm)
    await ws.join(viewer, room.room_id, "drama_chat")
    await ws.recv_type(viewer, "user_joined")
    return drama, owner, viewer, other


def save(drama: Drama, **changes) -> None:
    for name, value in changes.items():
        setattr(drama, name, value)
    drama.save()


async def test_a_title_change_reaches_the_room_and_the_owner_only(scene):
    drama, owner, viewer, other = scene

    await in_db(save, drama, title="河洛传奇 第二季", description="新简介")

    for comm in (viewer, owner):
        got = await ws.recv_type(comm, "drama_update", skip=SKIP)
        assert got["data"] == {
            "dramaId": str(drama.pk),
            "title": "河洛传奇 第二季",
            "status": "pending",
            "changed": ["title", "description"],
            "timestamp": got["data"]["timestamp"],
        }
        assert got["data"]["timestamp"].endswith("Z")
    assert await ws.nothing_more(other)
    assert await ws.nothing_more(owner)


async def test_an_owner_in_the_dramas_room_gets_each_update_once(
    scene, connect, alice, token_for
):
    drama, owner, viewer, _other = scene
    # Alice has a second connection, in the drama's room.
    watching = await connect(token=token_for(alice))
    await settled(watching)
    await ws.join(watching, f"drama-{drama.pk}", "drama_chat")
    await ws.recv_type(viewer, "user_joined")

    await in_db(save, drama, title="河洛传奇 续")

    for comm in (watching, owner, viewer):
        got = await ws.recv_type(comm, "drama_update", skip=SKIP)
        assert got["data"]["changed"] == ["title"]
        assert await ws.nothing_more(comm)


async def test_approval_notifies_the_owner(scene):
    drama, owner, viewer, other = scene

    await in_db(save, drama, status=Drama.Status.APPROVED)

    update = await ws.recv(owner)
    assert update["type"] == "drama_update"
    assert update["data"]["changed"] == ["status"]
    assert update["data"]["status"] == "approved"
    note = await ws.recv(owner)
    assert note["type"] == "notification"
    assert note["data"]["type"] == "review"
    assert note["data"]["content"] == "您的短剧《河洛传奇》已审核通过"
    assert note["data"]["extra"] == {"dramaId": str(drama.pk), "status": "approved"}
    assert (await ws.recv_type(viewer, "drama_update", skip=SKIP))["data"][
        "changed"
    ] == ["status"]
    assert await ws.nothing_more(viewer)
    assert await ws.nothing_more(other)
    stored = await Notification.objects.aget(recipient_id=drama.owner_id)
    assert str(stored.pk) == note["data"]["id"]


async def test_rejection_carries_the_reason(scene):
    drama, owner, _viewer, _other = scene

    await in_db(
        save, drama, status=Drama.Status.REJECTED, review_note="画面涉及版权问题"
    )

    update = await ws.recv(owner)
    assert update["data"]["changed"] == ["status", "reviewNote"]
    note = await ws.recv_type(owner, "notification")
    assert (
        note["data"]["content"]
        == "您的短剧《河洛传奇》未通过审核，原因：画面涉及版权问题"
    )


async def test_a_save_that_changes_nothing_pushes_nothing(scene):
    drama, owner, viewer, _other = scene

    await in_db(save, drama)
    await in_db(save, drama, title="河洛传奇")

    assert await ws.nothing_more(owner)
    assert await ws.nothing_more(viewer)


async def test_update_fields_limits_changed_to_what_was_written(scene):
    drama, owner, _viewer, _other = scene

    def save_title_only() -> None:
        drama.title = "新标题"
        drama.status = Drama.Status.APPROVED  # in memory only: not written
        drama.save(update_fields=["title", "updated_at"])

    await in_db(save_title_only)

    got = await ws.recv(owner)
    assert got["data"]["changed"] == ["title"]
    assert got["data"]["status"] == "approved"  # the instance as saved
    assert await ws.nothing_more(owner)
    assert not await Notification.objects.aexists()


async def test_a_new_owner_is_a_change_pushed_to_the_new_owner(scene, carol):
    drama, owner, viewer, other = scene

    await in_db(save, drama, owner=carol)

    for comm in (other, viewer):
        got = await ws.recv_type(comm, "drama_update", skip=SKIP)
        assert got["data"]["changed"] == ["ownerId"]
    assert await ws.nothing_more(owner)


async def test_a_rolled_back_save_pushes_nothing(scene):
    drama, owner, viewer, _other = scene

    def approve_then_fail() -> None:
        with transaction.atomic():
            save(drama, status=Drama.Status.APPROVED)
            transaction.set_rollback(True)

    await in_db(approve_then_fail)

    assert await ws.nothing_more(owner, timeout=0.5)
    assert await ws.nothing_more(viewer)
    assert not await Notification.objects.aexists()
    assert (await Drama.objects.aget(pk=drama.pk)).status == "pending"


async def test_a_new_drama_pushes_nothing(connect, alice, token_for, make_drama):
    owner = await connect(token=token_for(alice))
    await settled(owner)

    await in_db(make_drama, alice, with_room=False)

    assert await ws.nothing_more(owner)
