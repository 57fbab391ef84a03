"""Writes: opening rooms, storing chat, moderation. Each write is one transaction;
pushes are handed to `chat.events`, which sends them after commit."""

import re
import secrets
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from chat import events
from chat.exceptions import (
    ContentBlocked,
    Forbidden,
    InvalidMessage,
    Muted,
    RoomClosed,
    RoomNotFound,
    RoomTypeMismatch,
)
from chat.models import ChatMessage, Drama, Room, RoomMember, RoomType
from chat.selectors import (
    member_get,
    message_data,
    room_get_for_user,
    user_display_name,
)

DRAMA_ROOM_RE = re.compile(r"^drama-([1-9][0-9]{0,17})$")
# Prefix of the ids the server makes up for rooms created without one.
GENERATED_ID_PREFIX = {
    RoomType.AI_ASSISTANT: "ai",
    RoomType.LIVE_STREAM: "live",
    RoomType.CULTURAL_CIRCLE: "circle",
}


@transaction.atomic
def room_open_for_join(
    *, room_id: str, room_type: str | None, user, create: str
) -> Room:
    """Return the room `user` may join, creating it when the type's rule allows.

    `create` is the room type's rule: "never", "anyone", "owner" (the joiner owns
    it) or "drama" (the id names an existing Drama: `drama-<pk>`).
    """
    try:
        room = room_get_for_user(room_id=room_id, user=user)
    except RoomNotFound:
        room = _room_create_on_join(
            room_id=room_id, room_type=room_type, user=user, create=create
        )
    if room_type and room.room_type != room_type:
        raise RoomTypeMismatch(f"room {room_id} is a {room.room_type} room")
    if room.is_closed:
        raise RoomClosed()
    member = member_get(room=room, user=user)
    if member is not None and member.is_banned:
        raise Forbidden("you are banned from this room")
    return room


def _room_create_on_join(
    *, room_id: str, room_type: str | None, user, create: str
) -> Room:
    if (
        create == "never"
        or room_type is None
        or _reserved_for_other_type(room_id, room_type)
        or Room.objects.filter(room_id=room_id).exists()
    ):
        raise RoomNotFound()
    defaults: dict = {"room_type": room_type, "title": room_id}
    if create == "owner":
        defaults["owner"] = user
    elif create == "drama":
        match = DRAMA_ROOM_RE.match(room_id)
        drama = Drama.objects.filter(pk=int(match.group(1))).first() if match else None
        if drama is None:
            raise RoomNotFound()
        defaults.update(drama=drama, title=drama.title)
    room, _ = Room.objects.get_or_create(room_id=room_id, defaults=defaults)
    if room.room_type == RoomType.AI_ASSISTANT and room.owner_id != user.pk:
        raise RoomNotFound()
    return room


def _reserved_for_other_type(room_id: str, room_type: str) -> bool:
    """`drama-<n>` names the chat of drama n and no other kind of room."""
    return room_type != RoomType.DRAMA_CHAT and bool(DRAMA_ROOM_RE.match(room_id))


def user_may_create_rooms(user) -> bool:
    """Return whether `user` may open standing rooms (circles, live streams)."""
    return user.is_staff or user.has_perm("chat.add_room")


@transaction.atomic
def room_create(
    *,
    user,
    room_type: str,
    room_id: str | None,
    title: str,
    create: str,
    record_membership: bool,
) -> Room:
    """Create a room through the API under the type's rule; the creator owns it.

    `create` is the rule: "owner" (anyone, for a room of their own), "permitted"
    (staff or the `chat.add_room` permission) or "never".
    """
    if create == "never":
        raise InvalidMessage(f"{room_type} rooms are not created through the API")
    if create == "permitted" and not user_may_create_rooms(user):
        raise Forbidden(f"you may not create {room_type} rooms")
    room_id = room_id or f"{GENERATED_ID_PREFIX[room_type]}-{secrets.token_hex(8)}"
    if _reserved_for_other_type(room_id, room_type):
        raise InvalidMessage("ids drama-<n> belong to drama_chat rooms")
    try:
        with transaction.atomic():
            room = Room.objects.create(
                room_id=room_id, room_type=room_type, title=title or room_id, owner=user
            )
    except IntegrityError:
        raise InvalidMessage(f"room id {room_id} is taken") from None
    if record_membership:
        RoomMember.objects.create(room=room, user=user)
    return room


@transaction.atomic
def room_member_add(*, room: Room, user) -> RoomMember:
    """Record `user` as a member of `room` (kept for standing communities)."""
    member, _ = RoomMember.objects.get_or_create(room=room, user=user)
    return member


def _next_seq(room_pk: int) -> int:
    """Lock the room row and hand out its next number; RoomClosed if it is closed.

    One statement, so ids in a room follow commit order (PostgreSQL and SQLite
    >= 3.35 both have RETURNING).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Room._meta.db_table} SET last_seq = last_seq + 1 "
            "WHERE id = %s AND NOT is_closed RETURNING last_seq",
            [room_pk],
        )
        row = cursor.fetchone()
    if row is None:
        raise RoomClosed()
    return row[0]


def _check_content(text: str) -> None:
    lowered = text.lower()
    for word in settings.CHAT_BLOCKED_WORDS:
        if word and word in lowered:
            raise ContentBlocked()


@transaction.atomic
def message_create(
    *,
    room: Room,
    user,
    text: str,
    message_type: str = "text",
    client_msg_id: str | None = None,
    episode: int | None = None,
    playback_ms: int | None = None,
) -> tuple[dict, bool]:
    """Store a user's chat message; return (its wire data, whether it is new).

    A repeat of the same `client_msg_id` by the same user in the same room returns
    the stored message and is not stored again.
    """
    _check_content(text)
    member = member_get(room=room, user=user)
    if member is not None and member.is_banned:
        raise Forbidden("you are banned from this room")
    if member is not None and member.is_muted():
        raise Muted(f"muted until {member.muted_until.isoformat()}")
    seq = _next_seq(room.pk)
    if client_msg_id:
        existing = ChatMessage.objects.filter(
            room=room, sender=user, client_msg_id=client_msg_id
        ).first()
        if existing is not None:
            transaction.set_rollback(True)
            return message_data(existing, room.room_id), False
    message = ChatMessage.objects.create(
        room=room,
        seq=seq,
        sender=user,
        sender_name=user_display_name(user),
        message=text,
        message_type=message_type,
        client_msg_id=client_msg_id,
        episode=episode,
        playback_ms=playback_ms,
    )
    return message_data(message, room.room_id), True


def message_create_idempotent(**kwargs) -> tuple[dict, bool]:
    """`message_create`, answering a concurrent duplicate with the stored message."""
    try:
        return message_create(**kwargs)
    except IntegrityError:
        existing = ChatMessage.objects.get(
            room=kwargs["room"],
            sender=kwargs["user"],
            client_msg_id=kwargs["client_msg_id"],
        )
        return message_data(existing, kwargs["room"].room_id), False


@transaction.atomic
def assistant_message_create(*, room: Room, text: str, reply_to: str) -> dict:
    """Store the AI assistant's reply; return its wire data."""
    message = ChatMessage.objects.create(
        room=room,
        seq=_next_seq(room.pk),
        sender=None,
        sender_name=settings.AI_ASSISTANT_NAME,
        message=text,
        reply_to=reply_to,
    )
    return message_data(message, room.room_id)


@transaction.atomic
def messages_expired_purge(
    *, room_type: str, older_than: datetime, batch_size: int = 1000
) -> int:
    """Delete one batch of a room type's messages created before `older_than`.

    Return how many were deleted; call until it returns 0. Batches keep each
    transaction (and its locks) short on a busy table.
    """
    batch = list(
        ChatMessage.objects.filter(room__room_type=room_type, created_at__lt=older_than)
        .order_by("pk")
        .values_list("pk", flat=True)[:batch_size]
    )
    if not batch:
        return 0
    deleted, _ = ChatMessage.objects.filter(pk__in=batch).delete()
    return deleted


@transaction.atomic
def message_hide(*, message: ChatMessage) -> None:
    """Hide a message from history and tell the room to remove it."""
    ChatMessage.objects.filter(pk=message.pk).update(is_hidden=True)
    events.message_deleted(room=message.room, message_id=message.public_id)


@transaction.atomic
def member_mute(*, room: Room, user, minutes: int) -> RoomMember:
    member, _ = RoomMember.objects.get_or_create(room=room, user=user)
    member.muted_until = timezone.now() + timezone.timedelta(minutes=minutes)
    member.save(update_fields=["muted_until"])
    return member


@transaction.atomic
def member_ban(*, room: Room, user) -> RoomMember:
    """Ban `user` from `room` and close their sockets in it (close 4003)."""
    member, _ = RoomMember.objects.get_or_create(room=room, user=user)
    member.is_banned = True
    member.save(update_fields=["is_banned"])
    events.user_kicked(room=room, user_id=user.pk)
    return member


@transaction.atomic
def room_close(*, room: Room) -> None:
    Room.objects.filter(pk=room.pk).update(is_closed=True)
    events.room_closed(room=room)
