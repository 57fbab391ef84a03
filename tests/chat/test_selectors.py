"""chat.selectors: the hand-written join reads agree with the general ones."""

from datetime import timedelta

import pytest

from django.utils import timezone

from chat import selectors
from chat.exceptions import RoomNotFound
from chat.models import ChatMessage, Room, RoomType, Sanction

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("room_type", [RoomType.LIVE_STREAM, RoomType.CULTURAL_CIRCLE])
@pytest.mark.parametrize("limit", [1, 5, 50])
def test_recent_is_the_latest_page_of_history(settings, alice, room_type, limit):
    settings.ROOM_HISTORY_RETENTION_HOURS = {"live_stream": 24}
    room = Room.objects.create(room_id="r-1", room_type=room_type)
    for seq in range(1, 13):
        ChatMessage.objects.create(
            room=room,
            seq=seq,
            sender=alice,
            sender_name="Alice",
            message=f"m{seq}",
            is_hidden=seq in (11, 4),
            episode=1 if seq % 2 else None,
            playback_ms=seq * 1000 if seq % 2 else None,
            created_at=timezone.now() - timedelta(hours=30 if seq <= 3 else 1),
        )
    Room.objects.filter(pk=room.pk).update(last_seq=12)
    recent, head = selectors.message_recent(
        room_pk=room.pk, room_id=room.room_id, room_type=room_type, limit=limit
    )
    assert recent == selectors.message_history(room=room, limit=limit)[0]
    assert recent  # something to compare
    assert head == 12


def test_recent_of_a_room_without_messages_is_empty_with_its_head():
    """The head comes with the rows; a room with none (or none visible) still
    has one, which the joining socket is caught up to."""
    room = Room.objects.create(room_id="r-0", room_type=RoomType.CULTURAL_CIRCLE)
    Room.objects.filter(pk=room.pk).update(last_seq=3)
    assert selectors.message_recent(
        room_pk=room.pk, room_id="r-0", room_type=room.room_type, limit=5
    ) == ([], 3)
    assert selectors.message_recent(
        room_pk=room.pk + 1000, room_id="r-x", room_type=room.room_type, limit=5
    ) == ([], 0)


def test_room_for_join_reads_the_ban_of_this_user_only(alice, bob):
    room = Room.objects.create(room_id="c-1", room_type=RoomType.CULTURAL_CIRCLE)
    Sanction.objects.create(kind="ban", room=room, user=bob, reason="r")
    Sanction.objects.create(kind="mute", room=room, user=alice, reason="r")
    assert selectors.room_get_for_join(room_id="c-1", user=alice) == (room, False)
    assert selectors.room_get_for_join(room_id="c-1", user=bob) == (room, True)


def test_room_for_join_hides_what_room_get_for_user_hides(alice, bob):
    Room.objects.create(room_id="ai-1", room_type=RoomType.AI_ASSISTANT, owner=alice)
    for room_id in ("ai-1", "missing"):
        with pytest.raises(RoomNotFound):
            selectors.room_get_for_join(room_id=room_id, user=bob)
        with pytest.raises(RoomNotFound):
            selectors.room_get_for_user(room_id=room_id, user=bob)
    assert selectors.room_get_for_join(room_id="ai-1", user=alice)[0].owner == alice
