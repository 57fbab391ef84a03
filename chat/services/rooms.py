"""Writes: opening rooms on join, creating them through the API, memberships.
Each write is one transaction, under the room type's rules (`chat.room_types`)."""

import re
import secrets

from django.db import IntegrityError, transaction

from chat.exceptions import (
    Forbidden,
    InvalidMessage,
    RoomClosed,
    RoomNotFound,
    RoomTypeMismatch,
)
from chat.models import Drama, Room, RoomMember, RoomType
from chat.room_types import OnJoin, ViaApi
from chat.selectors import room_get_for_join

DRAMA_ROOM_RE = re.compile(r"^drama-([1-9][0-9]{0,17})$")
# Private (assistant) rooms are named by the server from their owner, so no one
# can take another user's room first: `assistant_room_id`. Ids starting with
# "ai-" or "ai:" belong to assistant rooms only.
ASSISTANT_ROOM_RE = re.compile(r"^ai[-:]")
_USERNAME_AS_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,61}\Z")
# Prefix of the ids the server makes up for rooms created without one.
GENERATED_ID_PREFIX = {
    RoomType.AI_ASSISTANT: "ai",
    RoomType.LIVE_STREAM: "live",
    RoomType.CULTURAL_CIRCLE: "circle",
}


def room_open_for_join(
    *, room_id: str, room_type: str | None, user, create: OnJoin
) -> Room:
    """Return the room `user` may join, creating it when the type's rule allows.

    `create` is the room type's rule (`OnJoin`). Joining an
    existing room only reads: no transaction, so no SQLite write lock, which a
    crowd joining a live stream would otherwise queue on behind the chat writes.
    """
    try:
        room, banned = room_get_for_join(room_id=room_id, user=user)
    except RoomNotFound:
        room = _room_create_on_join(
            room_id=room_id, room_type=room_type, user=user, create=create
        )
        banned = False  # a new room has no members yet
    if room_type and room.room_type != room_type:
        raise RoomTypeMismatch(f"room {room_id} is a {room.room_type} room")
    if room.is_closed:
        raise RoomClosed()
    if banned:
        raise Forbidden("you are banned from this room")
    return room


def assistant_room_id(user) -> str:
    """Return the id of `user`'s own assistant room: "ai-<username>", or
    "ai:<pk>" when the username does not fit a room id (no username has a ":")."""
    name = user.get_username()
    if _USERNAME_AS_ID_RE.match(name):
        return f"ai-{name}"
    return f"ai:{user.pk}"


def _may_create_on_join(*, room_id: str, user, create: OnJoin) -> bool:
    """Return whether joining may create the room: never what REST would refuse."""
    if create == OnJoin.OWNER:
        return room_id == assistant_room_id(user)
    if create == OnJoin.PERMITTED:
        return user_may_create_rooms(user)
    return create != OnJoin.NEVER


@transaction.atomic
def _room_create_on_join(
    *, room_id: str, room_type: str | None, user, create: OnJoin
) -> Room:
    if (
        room_type is None
        or not _may_create_on_join(room_id=room_id, user=user, create=create)
        or _reserved_for_other_type(room_id, room_type)
        or Room.objects.filter(room_id=room_id).exists()
    ):
        raise RoomNotFound()
    defaults: dict = {"room_type": room_type, "title": room_id}
    if create in (OnJoin.OWNER, OnJoin.PERMITTED):
        defaults["owner"] = user
    elif create == OnJoin.DRAMA:
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
    """`drama-<n>` names the chat of drama n and no other kind of room;
    `ai-...` / `ai:...` name assistant rooms only."""
    if room_type != RoomType.DRAMA_CHAT and DRAMA_ROOM_RE.match(room_id):
        return True
    return room_type != RoomType.AI_ASSISTANT and bool(ASSISTANT_ROOM_RE.match(room_id))


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
    create: ViaApi,
    record_membership: bool,
) -> Room:
    """Create a room through the API under the type's rule (`ViaApi`); the
    creator owns it."""
    if create == ViaApi.NEVER:
        raise InvalidMessage(f"{room_type} rooms are not created through the API")
    if create == ViaApi.PERMITTED and not user_may_create_rooms(user):
        raise Forbidden(f"you may not create {room_type} rooms")
    if create == ViaApi.OWNER:
        room_id = _own_room_id(user=user, asked=room_id)
    room_id = room_id or f"{GENERATED_ID_PREFIX[room_type]}-{secrets.token_hex(8)}"
    if _reserved_for_other_type(room_id, room_type):
        raise InvalidMessage(
            "ids drama-<n> belong to drama_chat rooms, ai-… and ai:… to "
            "ai_assistant rooms"
        )
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


def _own_room_id(*, user, asked: str | None) -> str:
    """Return the id of a new private room of `user`: their own assistant room
    the first time, then "ai:<pk>:<random>"; a client-chosen id is refused."""
    own = assistant_room_id(user)
    if asked is not None and asked != own:
        raise InvalidMessage(
            f"assistant room ids are chosen by the server: leave out roomId"
            f" (yours is {own})"
        )
    if asked is None and Room.objects.filter(room_id=own).exists():
        return f"ai:{user.pk}:{secrets.token_hex(8)}"
    return own


@transaction.atomic
def room_member_add(*, room: Room, user) -> RoomMember:
    """Record `user` as a member of `room` (kept for standing communities)."""
    member, _ = RoomMember.objects.get_or_create(room=room, user=user)
    return member
