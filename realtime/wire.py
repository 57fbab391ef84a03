"""The envelope every frame shares, and the connection's own frames.

A frame is `{"type", "data", "requestId"?}` (`pong` has `timestamp` instead of
`data`), encoded once with orjson; times are ISO 8601 UTC with milliseconds and a
`Z`. The apps build their frames with `frame` (chat/frames.py,
notifications/frames.py); the frames a connection sends by itself are here.
"""

import time
from datetime import UTC, datetime
from typing import Any

import orjson

INVALID_TOKEN = "Token无效或已过期"


def encode(frame: dict) -> str:
    """Return the JSON text of a frame."""
    return orjson.dumps(frame).decode()


def iso(dt: datetime) -> str:
    """Return `dt` as ISO 8601 UTC with milliseconds and a `Z`."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{dt.microsecond // 1000:03d}Z"
    )


def now_iso() -> str:
    return iso(datetime.now(UTC))


def frame(kind: str, data: dict, request_id: str | None = None) -> dict:
    """Return a frame of type `kind`, answering `request_id` when given."""
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


def auth_error(reason: str = INVALID_TOKEN) -> dict:
    return frame("auth_error", {"error": reason})


def error(
    code: str,
    message: str,
    ref: str | None,
    request_id: str | None = None,
    extra: dict | None = None,
) -> dict:
    """Return an `error` frame; `ref` names the client message type it answers."""
    data: dict[str, Any] = {"code": code, "message": message}
    if ref:
        data["ref"] = ref
    if extra:
        data.update(extra)
    return frame("error", data, request_id)
