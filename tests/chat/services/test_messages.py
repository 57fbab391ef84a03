"""Batched chat writes: one transaction for many chats, each with its own outcome."""

import pytest

from django.utils import timezone

from chat import services
from chat.exceptions import ContentBlocked, Forbidden, Muted, RoomClosed
from chat.models import ChatMessage, Room, RoomType, Sanction
from chat.services import ChatDraft

pytestmark = pytest.mark.django_db


@pytest.fixture
def rooms():
    return [
        Room.objects.create(room_id=f"batch-{i}", room_type=RoomType.CULTURAL_CIRCLE)
        for i in range(2)
    ]


def draft(room, user, text="hi", **fields):
    return ChatDraft(
        room_pk=room.pk, room_id=room.room_id, user=user, text=text, **fields
    )


def test_a_batch_orders_each_rooms_ids_as_submitted(rooms, alice, bob):
    a, b = rooms
    drafts = [
        draft(a, alice, "a1"),
        draft(b, bob, "b1"),
        draft(a, bob, "a2"),
        draft(a, alice, "a3"),
    ]
    outcomes = services.messages_create(drafts)
    assert [o[1] for o in outcomes] == [True] * 4
    in_a = [o[0] for o, d in zip(outcomes, drafts, strict=True) if d.room_pk == a.pk]
    ids_a = [data["id"] for data in in_a]
    assert [data["message"] for data in in_a] == ["a1", "a2", "a3"]
    assert ids_a == sorted(ids_a) and len(set(ids_a)) == 3
    assert [m.seq for m in ChatMessage.objects.filter(room=a)] == [1, 2, 3]
    assert Room.objects.get(pk=a.pk).last_seq == 3


def test_client_msg_id_repeats_in_and_across_batches_are_stored_once(rooms, alice):
    a, _ = rooms
    first = services.messages_create(
        [
            draft(a, alice, "x", client_msg_id="c1"),
            draft(a, alice, "x", client_msg_id="c1"),
        ]
    )
    assert first[0][1] is True and first[1] == (first[0][0], False)
    again = services.messages_create([draft(a, alice, "x", client_msg_id="c1")])
    assert again == [(first[0][0], False)]
    assert ChatMessage.objects.filter(room=a).count() == 1


def test_refusals_are_per_draft_and_do_not_sink_the_batch(
    rooms, alice, bob, carol, settings
):
    a, b = rooms
    settings.CHAT_BLOCKED_WORDS = ["spam"]
    Sanction.objects.create(
        kind="mute",
        room=a,
        user=bob,
        ends_at=timezone.now() + timezone.timedelta(minutes=5),
    )
    Sanction.objects.create(kind="ban", room=a, user=carol)
    Room.objects.filter(pk=b.pk).update(is_closed=True)
    outcomes = services.messages_create(
        [
            draft(a, alice, "ok"),
            draft(a, alice, "SPAM here"),
            draft(a, bob, "hi"),
            draft(a, carol, "hi"),
            draft(b, alice, "hi"),
        ]
    )
    assert outcomes[0][1] is True
    assert [type(o) for o in outcomes[1:]] == [
        ContentBlocked,
        Muted,
        Forbidden,
        RoomClosed,
    ]
    assert list(ChatMessage.objects.values_list("message", flat=True)) == ["ok"]


def test_a_stored_repeat_is_answered_even_after_a_mute(rooms, alice):
    a, _ = rooms
    ((data, created),) = services.messages_create(
        [draft(a, alice, "x", client_msg_id="c9")]
    )
    Sanction.objects.create(
        kind="mute",
        room=a,
        user=alice,
        ends_at=timezone.now() + timezone.timedelta(minutes=5),
    )
    assert services.messages_create([draft(a, alice, "x", client_msg_id="c9")]) == [
        (data, False)
    ]


def test_message_create_raises_the_refusal(rooms, alice):
    Room.objects.filter(pk=rooms[0].pk).update(is_closed=True)
    with pytest.raises(RoomClosed):
        services.message_create(room=rooms[0], user=alice, text="hi")
