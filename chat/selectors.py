"""Reads: rooms a user may see, chat history. Shared by the socket and REST."""

from django.conf import settings
from django.db.models import Q, QuerySet

from chat.exceptions import RoomNotFound
from chat.models import ChatMessage, Room, RoomMember, RoomType, parse_message_id
from chat.protocol import iso

DEFAULT_HISTORY_LIMIT = 50


def user_display_name(user) -> str:
    return (user.get_full_name() or user.get_username())[:150]


def room_visible_q(user) -> Q:
    """Return the rule for rooms `user` may see: an assistant room is its owner's."""
    return ~(Q(room_type=RoomType.AI_ASSISTANT) & ~Q(owner_id=user.pk))


def rooms_for_user(*, user, room_type: str | None = None) -> QuerySet[Room]:
    """Return the rooms `user` may see, optionally of one type."""
    rooms = Room.objects.filter(room_visible_q(user))
    if room_type:
        rooms = rooms.filter(room_type=room_type)
    return rooms.order_by("room_type", "room_id")


def room_get_for_user(*, room_id: str, user) -> Room:
    """Return the room, or raise RoomNotFound, the same whether missing or private."""
    room = Room.objects.filter(room_id=room_id).first()
    if room is None or not room_visible_to(room=room, user=user):
        raise RoomNotFound()
    return room


def room_visible_to(*, room: Room, user) -> bool:
    if room.room_type == RoomType.AI_ASSISTANT:
        return room.owner_id == user.pk
    return True


def member_get(*, room: Room, user) -> RoomMember | None:
    return RoomMember.objects.filter(room=room, user=user).first()


def message_data(message: ChatMessage, room_id: str) -> dict:
    """Return a message in the wire shape of `chat.data`."""
    data = {
        "id": message.public_id,
        "roomId": room_id,
        "senderId": str(message.sender_id) if message.sender_id else "assistant",
        "senderName": message.sender_name,
        "message": message.message,
        "messageType": message.message_type,
        "timestamp": iso(message.created_at),
    }
    if message.client_msg_id:
        data["clientMsgId"] = message.client_msg_id
    if message.episode is not None:
        data["episode"] = message.episode
    if message.playback_ms is not None:
        data["playbackMs"] = message.playback_ms
    if message.reply_to:
        data["replyTo"] = message.reply_to
    return data


def message_history(
    *,
    room: Room,
    before: str | None = None,
    after: str | None = None,
    limit: int | None = None,
    episode: int | None = None,
    from_ms: int | None = None,
    to_ms: int | None = None,
) -> tuple[list[dict], bool]:
    """Return (messages oldest first, hasMore) of a room; one query.

    With `after`: the next messages after it (hasMore: newer ones remain).
    Otherwise the latest ones, or those before `before` (hasMore: older remain).
    With `episode`: danmaku of that episode between fromMs and toMs, in playback order.
    """
    limit = max(1, min(limit or DEFAULT_HISTORY_LIMIT, settings.WS_HISTORY_MAX_LIMIT))
    rows = ChatMessage.objects.filter(room=room, is_hidden=False)
    if episode is not None:
        rows = rows.filter(episode=episode)
        if from_ms is not None:
            rows = rows.filter(playback_ms__gte=from_ms)
        if to_ms is not None:
            rows = rows.filter(playback_ms__lte=to_ms)
        if after:
            rows = rows.filter(seq__gt=parse_message_id(after))
        found = list(rows.order_by("playback_ms", "seq")[: limit + 1])
        return [message_data(m, room.room_id) for m in found[:limit]], len(
            found
        ) > limit
    if after:
        rows = rows.filter(seq__gt=parse_message_id(after))
        if before:
            rows = rows.filter(seq__lt=parse_message_id(before))
        found = list(rows.order_by("seq")[: limit + 1])
        return [message_data(m, room.room_id) for m in found[:limit]], len(
            found
        ) > limit
    if before:
        rows = rows.filter(seq__lt=parse_message_id(before))
    found = list(rows.order_by("-seq")[: limit + 1])
    page = found[:limit]
    page.reverse()
    return [message_data(m, room.room_id) for m in page], len(found) > limit


def room_data(room: Room) -> dict:
    return {"roomId": room.room_id, "roomType": room.room_type, "title": room.title}
