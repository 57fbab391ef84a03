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
    message_hide,
    message_unhide,
    moderation_log,
    room_close,
    room_danmaku_rate_set,
    room_delete,
    room_reopen,
    room_slow_mode_set,
    sanction_apply,
    sanction_lift,
    sanction_update,
    senders_sanction,
)
from chat.services.rooms import (
    room_create,
    room_member_add,
    room_open_for_join,
    user_may_create_rooms,
)
from chat.services.words import word_delete, word_save, words_add

__all__ = [
    "ChatDraft",
    "Outcome",
    "assistant_answer",
    "assistant_quota_check",
    "new_stream_id",
    "assistant_message_create",
    "message_create",
    "message_hide",
    "message_unhide",
    "moderation_log",
    "messages_create",
    "messages_create_safely",
    "messages_expired_purge",
    "room_close",
    "room_create",
    "room_delete",
    "room_member_add",
    "room_open_for_join",
    "room_reopen",
    "room_danmaku_rate_set",
    "room_slow_mode_set",
    "sanction_apply",
    "sanction_lift",
    "sanction_update",
    "senders_sanction",
    "user_may_create_rooms",
    "word_delete",
    "word_save",
    "words_add",
]
