"""The wire protocol: one table of client message types (validator -> handler) and
the builders of every server frame. See docs/protocol.md and ../shared/PROTOCOL.md.

Client input is parsed and validated here and nowhere else; a client `type` is
looked up in `CLIENT_MESSAGES` and never reaches channels' own `dispatch`.
"""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from django.conf import settings

from chat.exceptions import InvalidJson, InvalidMessage, MessageTooLong, UnknownType
from chat.models import MessageType, RoomType

# \Z, not $: "$" also matches before a trailing newline ("room\n").
ROOM_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")
MESSAGE_ID_RE = re.compile(r"^[0-9]{12}(-[0-9]{1,20})?\Z")
ROOM_TYPES = frozenset(RoomType.values)
MESSAGE_TYPES = frozenset(MessageType.values)
DEVICE_TYPES = frozenset({"web", "mobile", "desktop"})
SHORT_STRING = 64
# The largest value of the column a number is stored in or compared with
# (PositiveIntegerField for episodes; JSON-safe integers otherwise).
EPISODE_MAX = 2**31 - 1
JSON_INT_MAX = 2**53 - 1


@dataclass(frozen=True)
class Inbound:
    """A validated client message."""

    type: str
    data: dict[str, Any]
    request_id: str | None


@dataclass(frozen=True)
class Spec:
    validate: Callable[[dict[str, Any]], dict[str, Any]]
    handler: str
    needs_auth: bool = True


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
    return {"roomId": _room_id(data), "roomType": _room_type(data, required=False)}


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


CLIENT_MESSAGES: dict[str, Spec] = {
    # Only `auth` before authenticating: the contract answers anything else,
    # `ping` included, with not_authenticated.
    "ping": Spec(validate_ping, "on_ping"),
    "auth": Spec(validate_auth, "on_auth", needs_auth=False),
    "chat": Spec(validate_chat, "on_chat"),
    "join_room": Spec(validate_join_room, "on_join_room"),
    "leave_room": Spec(validate_leave_room, "on_leave_room"),
    "history": Spec(validate_history, "on_history"),
}


# --- parsing --------------------------------------------------------------------


def parse_frame(text: str | None, raw_bytes: bytes | None) -> dict:
    """Return the decoded JSON object of a client frame, or raise a ClientError."""
    if text is None:
        raise InvalidJson("binary frames are not accepted; send JSON text")
    if not text.strip():
        raise InvalidJson("empty frame")
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson(f"invalid JSON: {str(exc).split(':')[0]}") from None
    if not isinstance(msg, dict):
        raise InvalidMessage("a message must be a JSON object")
    if _too_deep(msg, settings.WS_MAX_JSON_DEPTH):
        raise InvalidMessage("message is nested too deeply")
    return msg


def _too_deep(msg: dict, limit: int) -> bool:
    """Return whether a value lies more than `limit` levels deep (the object
    itself is level 1, its members level 2, ...). Runs on every frame."""
    stack: list[tuple[dict | list, int]] = [(msg, 1)]
    while stack:
        container, level = stack.pop()
        if level > limit or (level == limit and container):
            return True
        members = container.values() if isinstance(container, dict) else container
        for member in members:
            if isinstance(member, (dict, list)):
                stack.append((member, level + 1))
    return False


def message_type_of(msg: dict) -> str | None:
    """Return the message's `type` when it is a short string (for error `ref`s)."""
    kind = msg.get("type")
    return kind if isinstance(kind, str) and len(kind) <= SHORT_STRING else None


def request_id_of(msg: dict) -> str | None:
    request_id = msg.get("requestId")
    if isinstance(request_id, str) and 0 < len(request_id) <= SHORT_STRING:
        return request_id
    return None


def validate(msg: dict) -> tuple[Spec, Inbound]:
    """Return the spec and the validated message, or raise a ClientError."""
    kind = msg.get("type")
    if not isinstance(kind, str):
        raise InvalidMessage("'type' must be a string")
    if "requestId" in msg and request_id_of(msg) is None:
        raise InvalidMessage(f"'requestId' must be a 1-{SHORT_STRING} character string")
    spec = CLIENT_MESSAGES.get(kind)
    if spec is None:
        raise UnknownType(f"unknown message type {kind[:SHORT_STRING]!r}")
    return spec, Inbound(kind, spec.validate(msg), request_id_of(msg))


# --- outbound builders ------------------------------------------------------------


def iso(dt: datetime) -> str:
    """Return `dt` as ISO 8601 UTC with milliseconds and a `Z`."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{dt.microsecond // 1000:03d}Z"
    )


def now_iso() -> str:
    return iso(datetime.now(UTC))


def encode(frame: dict) -> str:
    return orjson.dumps(frame).decode()


def frame(kind: str, data: dict, request_id: str | None = None) -> dict:
    out: dict[str, Any] = {"type": kind, "data": data}
    if request_id:
        out["requestId"] = request_id
    return out


def pong(request_id: str | None = None) -> dict:
    out: dict[str, Any] = {"type": "pong", "timestamp": int(time.time() * 1000)}
    if request_id:
        out["requestId"] = request_id
    return out


def auth_success(user_id: str, session_id: str) -> dict:
    return frame("auth_success", {"userId": user_id, "sessionId": session_id})


def auth_error(reason: str = "Token无效或已过期") -> dict:
    return frame("auth_error", {"error": reason})


def error(
    code: str,
    message: str,
    ref: str | None,
    request_id: str | None = None,
    extra: dict | None = None,
) -> dict:
    data: dict[str, Any] = {"code": code, "message": message}
    if ref:
        data["ref"] = ref
    if extra:
        data.update(extra)
    return frame("error", data, request_id)


def presence_event(kind: str, room_id: str, user_id: str, user_name: str) -> dict:
    """Return a `user_joined` or `user_left` frame."""
    return frame(
        kind,
        {
            "roomId": room_id,
            "userId": user_id,
            "userName": user_name,
            "timestamp": now_iso(),
        },
    )


def room_state(
    room: dict, online_count: int, recent: list[dict], request_id: str | None = None
) -> dict:
    return frame(
        "room_state",
        {
            "roomId": room["roomId"],
            "roomType": room["roomType"],
            "title": room["title"],
            "onlineCount": online_count,
            "recent": recent,
        },
        request_id,
    )


def history(
    room_id: str, messages: list[dict], has_more: bool, request_id: str | None = None
) -> dict:
    return frame(
        "history",
        {"roomId": room_id, "messages": messages, "hasMore": has_more},
        request_id,
    )


def chat(data: dict) -> dict:
    return frame("chat", data)


def presence_count(room_id: str, online_count: int) -> dict:
    return frame("presence", {"roomId": room_id, "onlineCount": online_count})


def message_deleted(room_id: str, message_id: str) -> dict:
    return frame("message_deleted", {"roomId": room_id, "messageId": message_id})


def ai_delta(room_id: str, reply_to: str, reply_id: str, delta: str) -> dict:
    return frame(
        "ai_delta",
        {"roomId": room_id, "replyTo": reply_to, "id": reply_id, "delta": delta},
    )


# --- notifications (the notifications app) -------------------------------------


def notification(data: dict) -> dict:
    """Return a `notification` frame; `data` from notifications.selectors."""
    return frame("notification", data)


def notification_summary(unread: int, latest_id: str | None) -> dict:
    return frame("notification_summary", {"unread": unread, "latestId": latest_id})


def drama_update(
    drama_id: str, title: str, status: str, changed: list[str], timestamp: datetime
) -> dict:
    return frame(
        "drama_update",
        {
            "dramaId": drama_id,
            "title": title,
            "status": status,
            "changed": changed,
            "timestamp": iso(timestamp),
        },
    )
