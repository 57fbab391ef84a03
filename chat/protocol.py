"""The wire protocol's one table: client message type -> validator -> handler.

Client input is validated here and nowhere else (`realtime.inbound` parses the
frame and looks its `type` up in `MESSAGES`); the frames the server sends are
built in `chat.frames` (and `notifications.frames`, `realtime.wire`). See
docs/protocol.md and ../shared/PROTOCOL.md.
"""

import re
from typing import Any

from django.conf import settings

from chat.exceptions import InvalidMessage, MessageTooLong
from chat.models import MessageType, RoomType
from realtime.inbound import SHORT_STRING, MessageTable, Spec

# \Z, not $: "$" also matches before a trailing newline ("room\n").
ROOM_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")
MESSAGE_ID_RE = re.compile(r"^[0-9]{12}(-[0-9]{1,20})?\Z")
ROOM_TYPES = frozenset(RoomType.values)
MESSAGE_TYPES = frozenset(MessageType.values)
# The largest value of the column a number is stored in or compared with
# (PositiveIntegerField for episodes; JSON-safe integers otherwise).
EPISODE_MAX = 2**31 - 1
JSON_INT_MAX = 2**53 - 1


# --- field checks -------------------------------------------------------------


def _field(data: dict, name: str, kind: type, *, required: bool = True) -> Any:
    value = data.get(name)
    if value is None:
        if required:
            raise InvalidMessage(f"'{name}' is required")
        return None
    # bool is an int subclass; JSON true is never a number here.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidMessage(f"'{name}' must be {_KIND_NAMES[kind]}")
    # PostgreSQL refuses U+0000 in text (SQLite stores it): refuse it everywhere.
    # Lone surrogates never get this far: orjson refuses them.
    if kind is str and "\x00" in value:
        raise InvalidMessage(f"'{name}' must not contain U+0000")
    return value


_KIND_NAMES = {str: "a string", int: "an integer", dict: "an object", bool: "a boolean"}


def _short(data: dict, name: str, *, required: bool = False) -> str | None:
    value = _field(data, name, str, required=required)
    if value is not None and not (0 < len(value) <= SHORT_STRING):
        raise InvalidMessage(f"'{name}' must be 1-{SHORT_STRING} characters")
    return value


def _room_id(data: dict, *, required: bool = True) -> str | None:
    value = _field(data, "roomId", str, required=required)
    if value is not None and not ROOM_ID_RE.match(value):
        raise InvalidMessage("'roomId' must match ^[A-Za-z0-9_.:-]{1,64}$")
    return value


def _room_type(data: dict, *, required: bool) -> str | None:
    value = _field(data, "roomType", str, required=required)
    if value is not None and value not in ROOM_TYPES:
        raise InvalidMessage(
            f"'roomType' must be one of {', '.join(sorted(ROOM_TYPES))}"
        )
    return value


def _non_negative(data: dict, name: str, maximum: int = JSON_INT_MAX) -> int | None:
    value = _field(data, name, int, required=False)
    if value is not None and not (0 <= value <= maximum):
        raise InvalidMessage(f"'{name}' must be an integer from 0 to {maximum}")
    return value


def _message_id(data: dict, name: str) -> str | None:
    value = _field(data, name, str, required=False)
    if value is not None and not MESSAGE_ID_RE.match(value):
        raise InvalidMessage(f"'{name}' is not a message id")
    return value


# --- validators, one per client type -------------------------------------------


def validate_ping(msg: dict) -> dict:
    ts = msg.get("timestamp")
    if ts is not None and (not isinstance(ts, (int, float)) or isinstance(ts, bool)):
        raise InvalidMessage("'timestamp' must be a number")
    return {}


def validate_auth(msg: dict) -> dict:
    token = _field(msg, "token", str)
    if not token or len(token) > 4096:
        raise InvalidMessage("'token' must be a non-empty string")
    return {
        "token": token,
        "clientId": _short(msg, "clientId"),
        "lastNotificationId": _short(msg, "lastNotificationId"),
    }


def validate_chat(msg: dict) -> dict:
    data = _data(msg)
    text = _field(data, "message", str)
    if not text.strip():
        raise InvalidMessage("'message' must not be empty")
    if len(text) > settings.WS_MAX_CHAT_CHARS:
        raise MessageTooLong(
            f"message is longer than {settings.WS_MAX_CHAT_CHARS} characters"
        )
    message_type = _field(data, "messageType", str, required=False) or "text"
    if message_type not in MESSAGE_TYPES:
        raise InvalidMessage(
            f"'messageType' must be one of {', '.join(sorted(MESSAGE_TYPES))}"
        )
    if message_type == "image" and not re.match(r"^https://\S+$", text):
        raise InvalidMessage("an image message must be an https URL")
    return {
        "roomId": _room_id(data, required=False),
        "message": text,
        "messageType": message_type,
        "clientMsgId": _short(data, "clientMsgId"),
        "episode": _non_negative(data, "episode", EPISODE_MAX),
        "playbackMs": _non_negative(data, "playbackMs"),
    }


def validate_join_room(msg: dict) -> dict:
    data = _data(msg)
    return {
        "roomId": _room_id(data),
        "roomType": _room_type(data, required=False),
        "lastMessageId": _message_id(data, "lastMessageId"),
    }


def validate_leave_room(msg: dict) -> dict:
    return {"roomId": _room_id(_data(msg))}


def validate_history(msg: dict) -> dict:
    data = _data(msg)
    limit = _field(data, "limit", int, required=False)
    if limit is not None and limit < 1:
        raise InvalidMessage("'limit' must be a positive integer")
    result = {
        "roomId": _room_id(data, required=False),
        "before": _message_id(data, "before"),
        "after": _message_id(data, "after"),
        "limit": limit,
        "episode": _non_negative(data, "episode", EPISODE_MAX),
        "fromMs": _non_negative(data, "fromMs"),
        "toMs": _non_negative(data, "toMs"),
    }
    if (result["fromMs"] is not None or result["toMs"] is not None) and result[
        "episode"
    ] is None:
        raise InvalidMessage("'fromMs'/'toMs' need 'episode'")
    return result


def _data(msg: dict) -> dict:
    data = msg.get("data")
    if not isinstance(data, dict):
        raise InvalidMessage("'data' must be an object")
    return data


MESSAGES = MessageTable(
    {
        # Only `auth` before authenticating: the contract answers anything else,
        # `ping` included, with not_authenticated.
        "ping": Spec(validate_ping, "on_ping"),
        "auth": Spec(validate_auth, "on_auth", needs_auth=False),
        "chat": Spec(validate_chat, "on_chat"),
        "join_room": Spec(validate_join_room, "on_join_room"),
        "leave_room": Spec(validate_leave_room, "on_leave_room"),
        "history": Spec(validate_history, "on_history"),
    }
)
