"""Moderation writes; admin actions call these, so their effects reach sockets live."""

from django.db import transaction
from django.utils import timezone

from chat import events
from chat.models import ChatMessage, Room, RoomMember


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
