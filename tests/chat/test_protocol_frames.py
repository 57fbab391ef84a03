"""Every outbound frame builder checked against a hand-written schema of the contract.

`SCHEMAS` is the contract's section 3 (and the documented extensions) as a table;
`frame_problems()` / `assert_frame()` are used by the socket tests too, so every
frame those tests receive is checked against it as well.
"""

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from chat import exceptions, frames, protocol
from chat.frames import message_data
from chat.models import ChatMessage
from notifications import frames as notification_frames
from realtime import wire

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")
ROOM_TYPES = {"drama_chat", "live_stream", "ai_assistant", "cultural_circle"}
MESSAGE_TYPES = {"text", "emoji", "image"}
# PROTOCOL.md section 4, exactly.
ERROR_CODES = {
    "invalid_json",
    "invalid_message",
    "unknown_type",
    "not_authenticated",
    "not_in_room",
    "room_not_found",
    "room_type_mismatch",
    "forbidden",
    "room_closed",
    "muted",
    "message_too_long",
    "rate_limited",
    "content_blocked",
}
# Not in PROTOCOL.md section 4: the AI assistant's end of a failed streamed reply
# (chat/consumers/ai_assistant.py), sent with roomId, replyTo and streamId.
AI_ERROR_CODES = {"ai_unavailable", "ai_cancelled"}
INVALID_TOKEN = "Token无效或已过期"

Check = Callable[[Any], bool]


def is_str(value: Any) -> bool:
    return isinstance(value, str)


def is_nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def is_short_str(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 64


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_count(value: Any) -> bool:
    return is_int(value) and value >= 0


def is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def is_iso_z(value: Any) -> bool:
    return isinstance(value, str) and bool(ISO_Z.match(value))


def is_user_id(value: Any) -> bool:
    return isinstance(value, str) and value.isdigit()


def is_message_id(value: Any) -> bool:
    return isinstance(value, str) and bool(protocol.MESSAGE_ID_RE.match(value))


def one_of(choices: set[str]) -> Check:
    return lambda value: value in choices


def list_of(check: Check) -> Check:
    return lambda value: isinstance(value, list) and all(check(v) for v in value)


def nullable(check: Check) -> Check:
    return lambda value: value is None or check(value)


@dataclass(frozen=True)
class Obj:
    """An object with exactly these required keys and at most these optional ones."""

    required: dict[str, Check]
    optional: dict[str, Check] = field(default_factory=dict)

    def problems(self, value: Any, where: str) -> list[str]:
        if not isinstance(value, dict):
            return [f"{where}: not an object: {value!r}"]
        out = [f"{where}: missing {k!r}" for k in self.required if k not in value]
        known = self.required | self.optional
        out += [f"{where}: unexpected {k!r}" for k in value if k not in known]
        out += [
            f"{where}.{k}: bad value {v!r}"
            for k, v in value.items()
            if k in known and not known[k](v)
        ]
        return out

    def __call__(self, value: Any) -> bool:
        return not self.problems(value, "")


CHAT_DATA = Obj(
    required={
        "id": is_message_id,
        "roomId": is_nonempty_str,
        # A user's id, or "assistant" for the AI assistant's replies.
        "senderId": lambda v: is_user_id(v) or v == "assistant",
        "senderName": is_str,
        "message": is_str,
        "messageType": one_of(MESSAGE_TYPES),
        "timestamp": is_iso_z,
    },
    optional={
        "clientMsgId": is_short_str,
        "episode": is_count,
        "playbackMs": is_count,
        "replyTo": is_message_id,
        # The assistant's reply names the stream its ai_delta frames carried.
        "streamId": is_nonempty_str,
    },
)
PRESENCE_DATA = Obj(
    required={
        "roomId": is_nonempty_str,
        "userId": is_user_id,
        "userName": is_str,
        "timestamp": is_iso_z,
    }
)


@dataclass(frozen=True)
class FrameSchema:
    """A frame: its `data` (None: no `data` key) and its extra top-level keys."""

    data: Obj | None
    top: dict[str, Check] = field(default_factory=dict)
    # The contract echoes `requestId` only on direct answers.
    request_id: bool = False


SCHEMAS: dict[str, FrameSchema] = {
    # --- seed 3.2.2, exact ---
    "pong": FrameSchema(None, top={"timestamp": is_int}, request_id=True),
    "auth_success": FrameSchema(
        Obj({"userId": is_user_id, "sessionId": is_nonempty_str})
    ),
    "auth_error": FrameSchema(Obj({"error": is_nonempty_str})),
    "notification": FrameSchema(
        Obj(
            required={
                "id": is_nonempty_str,
                "type": is_nonempty_str,
                "title": is_str,
                "content": is_str,
                "timestamp": is_iso_z,
            },
            # Extensions of the notifications app.
            optional={"read": is_bool, "extra": lambda v: isinstance(v, dict)},
        )
    ),
    "chat": FrameSchema(CHAT_DATA),
    "user_joined": FrameSchema(PRESENCE_DATA),
    "user_left": FrameSchema(PRESENCE_DATA),
    "drama_update": FrameSchema(
        Obj(
            {
                "dramaId": is_nonempty_str,
                "title": is_str,
                "status": is_nonempty_str,
                "changed": list_of(is_nonempty_str),
                "timestamp": is_iso_z,
            }
        )
    ),
    # --- extensions ---
    "error": FrameSchema(
        Obj(
            required={
                "code": one_of(ERROR_CODES | AI_ERROR_CODES),
                "message": is_nonempty_str,
            },
            optional={
                "ref": is_short_str,
                "retryAfterMs": lambda v: is_int(v) and v > 0,
                # `muted`: when the mute ends (null: it does not end by itself).
                "until": nullable(is_iso_z),
                "roomId": is_nonempty_str,
                "replyTo": is_message_id,
                "streamId": is_nonempty_str,
            },
        ),
        request_id=True,
    ),
    "room_state": FrameSchema(
        Obj(
            {
                "roomId": is_nonempty_str,
                "roomType": one_of(ROOM_TYPES),
                "title": is_str,
                "onlineCount": is_count,
                "recent": list_of(CHAT_DATA),
            }
        ),
        request_id=True,
    ),
    "history": FrameSchema(
        Obj(
            {
                "roomId": is_nonempty_str,
                "messages": list_of(CHAT_DATA),
                "hasMore": is_bool,
            }
        ),
        request_id=True,
    ),
    "message_deleted": FrameSchema(
        Obj({"roomId": is_nonempty_str, "messageId": is_message_id})
    ),
    "presence": FrameSchema(Obj({"roomId": is_nonempty_str, "onlineCount": is_count})),
    "ai_delta": FrameSchema(
        Obj(
            {
                "roomId": is_nonempty_str,
                "replyTo": is_message_id,
                "id": is_nonempty_str,
                "delta": is_str,
            }
        )
    ),
    "notification_summary": FrameSchema(
        Obj({"unread": is_count, "latestId": nullable(is_nonempty_str)})
    ),
}


def frame_problems(frame: Any) -> list[str]:
    """Return what is wrong with an outbound frame (empty when it is valid)."""
    if not isinstance(frame, dict):
        return [f"not an object: {frame!r}"]
    schema = SCHEMAS.get(frame.get("type"))
    if schema is None:
        return [f"unknown frame type {frame.get('type')!r}"]
    kind = frame["type"]
    top: dict[str, Check] = {"type": is_str, **schema.top}
    if schema.data is not None:
        top["data"] = lambda _value: True  # checked below, field by field
    optional = {"requestId": is_short_str} if schema.request_id else {}
    problems = Obj(top, optional).problems(frame, kind)
    if schema.data is not None and "data" in frame:
        problems += schema.data.problems(frame["data"], f"{kind}.data")
    return problems


def assert_frame(frame: Any) -> Any:
    """Fail unless `frame` matches the contract's schema; return it."""
    problems = frame_problems(frame)
    assert not problems, f"{problems} in {frame}"
    return frame


# --- builders -------------------------------------------------------------------------

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def sample_chat_data(**fields: Any) -> dict:
    """Return `chat.data` as the server builds it from a stored message."""
    message = ChatMessage(
        pk=1093,
        seq=42,
        sender_id=7,
        sender_name="张三",
        message="你好",
        message_type="text",
        created_at=NOW,
        **fields,
    )
    return message_data(message, "room-001")


# One call per builder: `frame type -> calls`. A builder missing here fails
# `test_every_builder_has_a_sample`.
BUILDER_SAMPLES: dict[str, list[Callable[[], dict]]] = {
    "pong": [lambda: wire.pong(), lambda: wire.pong("r-1")],
    "auth_success": [lambda: wire.auth_success("7", "client-uuid")],
    "auth_error": [
        lambda: wire.auth_error(),
        lambda: wire.auth_error("deviceType must be web, mobile or desktop"),
    ],
    "error": [
        lambda: wire.error("unknown_type", "unknown message type", "bogus"),
        lambda: wire.error("invalid_json", "invalid JSON", None),
        lambda: wire.error(
            "rate_limited", "slow down", "chat", "r-2", {"retryAfterMs": 120}
        ),
        lambda: wire.error(
            "room_closed", "the room was closed", None, extra={"roomId": "room-001"}
        ),
        lambda: wire.error(
            "muted", "muted", "chat", extra={"until": "2026-01-02T03:04:05.678Z"}
        ),
        lambda: wire.error(
            "ai_unavailable",
            "the assistant is unavailable",
            "chat",
            extra={
                "roomId": "ai-1",
                "replyTo": "000000000042-1093",
                "streamId": "ai-0f3c",
            },
        ),
    ],
    "presence_event": [
        lambda: frames.presence_event("user_joined", "room-001", "7", "张三"),
        lambda: frames.presence_event("user_left", "room-001", "7", "张三"),
    ],
    "room_state": [
        lambda: frames.room_state(
            {"roomId": "room-001", "roomType": "drama_chat", "title": "河洛"},
            3,
            [sample_chat_data()],
            "r-3",
        ),
        lambda: frames.room_state(
            {"roomId": "c", "roomType": "cultural_circle", "title": ""}, 0, []
        ),
    ],
    "history": [
        lambda: frames.history("room-001", [sample_chat_data()], True, "r-4"),
        lambda: frames.history("room-001", [], False),
    ],
    "chat": [
        lambda: frames.chat(sample_chat_data()),
        lambda: frames.chat(
            sample_chat_data(client_msg_id="m-1", episode=3, playback_ms=61000)
        ),
        lambda: frames.chat(
            {
                **sample_chat_data(reply_to="000000000041-1092"),
                "senderId": "assistant",
            }
        ),
    ],
    "presence_count": [lambda: frames.presence_count("live-1", 12)],
    "message_deleted": [
        lambda: frames.message_deleted("room-001", "000000000042-1093")
    ],
    "ai_delta": [lambda: frames.ai_delta("ai-1", "000000000042-1093", "reply-1", "洛")],
    "notification": [
        lambda: notification_frames.notification(
            {
                "id": "17",
                "type": "system",
                "title": "系统通知",
                "content": "您的短剧已审核通过",
                "timestamp": wire.iso(NOW),
            }
        )
    ],
    "notification_summary": [
        lambda: notification_frames.notification_summary(2, "17"),
        lambda: notification_frames.notification_summary(0, None),
    ],
    "drama_update": [
        lambda: notification_frames.drama_update(
            "5", "河洛传奇", "approved", ["status"], NOW
        )
    ],
}

# The modules that build every frame the server sends.
BUILDER_MODULES = (frames, notification_frames, wire)
# Functions of those that return a dict but do not build frames.
NOT_BUILDERS = {"frame", "chat_data", "message_data", "room_data"}


def protocol_builders() -> set[str]:
    names = set()
    for module in BUILDER_MODULES:
        names |= _builders_of(module)
    return names


def _builders_of(module) -> set[str]:
    names = set()
    for name, fn in vars(module).items():
        if (
            not inspect.isfunction(fn)
            or fn.__module__ != module.__name__
            or name.startswith(("_", "validate"))
            or name in NOT_BUILDERS
        ):
            continue
        returns = inspect.signature(fn).return_annotation
        if returns is dict or getattr(returns, "__origin__", None) is dict:
            names.add(name)
    return names


def test_every_builder_has_a_sample():
    missing = protocol_builders() - set(BUILDER_SAMPLES)
    assert not missing, (
        f"frame builders {sorted(missing)} have no sample in "
        "BUILDER_SAMPLES (and maybe no schema in SCHEMAS): add them"
    )


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(call, id=f"{name}-{i}")
        for name, calls in BUILDER_SAMPLES.items()
        for i, call in enumerate(calls)
    ],
)
def test_builder_output_matches_the_schema(build):
    assert_frame(build())


def test_seed_frames_have_the_seed_shapes_exactly():
    assert set(wire.pong()) == {"type", "timestamp"}
    assert wire.auth_success("7", "s") == {
        "type": "auth_success",
        "data": {"userId": "7", "sessionId": "s"},
    }
    assert wire.auth_error() == {
        "type": "auth_error",
        "data": {"error": INVALID_TOKEN},
    }
    assert sample_chat_data() == {
        "id": "000000000042-1093",
        "roomId": "room-001",
        "senderId": "7",
        "senderName": "张三",
        "message": "你好",
        "messageType": "text",
        "timestamp": "2026-01-02T03:04:05.678Z",
    }
    joined = frames.presence_event("user_joined", "room-001", "7", "张三")
    assert set(joined["data"]) == {"roomId", "userId", "userName", "timestamp"}


def test_pong_carries_server_time_in_milliseconds():
    before = int(datetime.now(UTC).timestamp() * 1000)
    stamp = wire.pong()["timestamp"]
    after = int(datetime.now(UTC).timestamp() * 1000)
    assert before <= stamp <= after


def test_request_id_is_echoed_only_when_given():
    assert wire.pong("abc")["requestId"] == "abc"
    assert "requestId" not in frames.history("r", [], False)
    assert wire.error("muted", "m", "chat", "q")["requestId"] == "q"


def test_every_socket_error_code_is_a_contract_code():
    codes = {
        value.code
        for value in vars(exceptions).values()
        if isinstance(value, type) and issubclass(value, exceptions.ClientError)
    }
    # No code outside the contract, and a ClientError for every contract code.
    assert codes == ERROR_CODES, codes ^ ERROR_CODES


def test_message_ids_sort_as_strings_in_sequence_order():
    ids = [ChatMessage(pk=1000 - seq, seq=seq).public_id for seq in (1, 9, 10, 99, 100)]
    assert ids == sorted(ids)
    assert ChatMessage(pk=5, seq=9).public_id < ChatMessage(pk=4, seq=10).public_id


# --- the schema itself must be able to fail -------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "pong"},
        {"type": "pong", "timestamp": "1"},
        {"type": "pong", "timestamp": True},
        {"type": "chat", "data": {**sample_chat_data(), "senderId": 7}},
        {"type": "chat", "data": {**sample_chat_data(), "timestamp": "2026-01-02"}},
        {
            "type": "chat",
            "data": {**sample_chat_data(), "timestamp": "2026-01-02T03:04:05+00:00"},
        },
        {"type": "chat", "data": {**sample_chat_data(), "id": "9"}},
        {"type": "chat", "data": {**sample_chat_data(), "extra": 1}},
        {
            "type": "chat",
            "data": {k: v for k, v in sample_chat_data().items() if k != "senderName"},
        },
        {"type": "chat", "data": sample_chat_data(), "requestId": "r"},
        {"type": "auth_success", "data": {"userId": 7, "sessionId": "s"}},
        {"type": "error", "data": {"code": "oops", "message": "m"}},
        {"type": "error", "data": {"code": "muted"}},
        {"type": "room_state", "data": {"roomId": "r", "roomType": "tv"}},
        {"type": "history", "data": {"roomId": "r", "messages": [{}], "hasMore": 0}},
        {"type": "user_joined", "data": {"roomId": "r", "userId": "1"}},
        {"type": "surprise", "data": {}},
        ["not", "an", "object"],
    ],
)
def test_the_schema_rejects_frames_off_the_contract(frame):
    assert frame_problems(frame)
