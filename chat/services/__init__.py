"""Writes, each one transaction; pushes go through `chat.events` after commit."""

from chat.services.assistant import (
    assistant_answer,
    assistant_quota_check,
    new_stream_id,
)
from chat.services.chat_store import ChatDraft, Outcome
from chat.services.messages import (
    assistant_message_create,
    message_create,
    messages_create,
    messages_create_safely,
    messages_expired_purge,
)
from chat.services.moderation import (
    member_ban,
    member_mute,
    message_hide,
    room_close,
)
from chat.services.rooms import (
    room_create,
    room_member_add,
    room_open_for_join,
    user_may_create_rooms,
)

__all__ = [
    "ChatDraft",
    "Outcome",
    "assistant_answer",
    "assistant_quota_check",
    "new_stream_id",
    "assistant_message_create",
    "member_ban",
    "member_mute",
    "message_create",
    "message_hide",
    "messages_create",
    "messages_create_safely",
    "messages_expired_purge",
    "room_close",
    "room_create",
    "room_member_add",
    "room_open_for_join",
    "user_may_create_rooms",
]
