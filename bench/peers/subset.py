"""The frames of the protocol subset both reference peers speak (raw_websockets.py,
bare_asgi.py): read and built in one place, so the ceiling and the floor do the same
work and send the same bytes."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import orjson


def parse(raw: str | bytes) -> tuple[object, dict, dict] | None:
    """Return a client frame's (type, data, whole message); None if it is not JSON."""
    try:
        msg = orjson.loads(raw)
        return msg.get("type"), msg.get("data") or {}, msg
    except (orjson.JSONDecodeError, AttributeError):
        return None


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def auth_success(user: str) -> dict:
    return {
        "type": "auth_success",
        "data": {"userId": user, "sessionId": str(uuid.uuid4())},
    }


def chat(message_id: int, room: str, user: str, data: dict) -> dict:
    return {
        "type": "chat",
        "data": {
            "id": f"{message_id:012d}",
            "roomId": room,
            "senderId": user,
            "senderName": f"user{user}",
            "message": data.get("message"),
            "messageType": data.get("messageType", "text"),
            "timestamp": iso_now(),
        },
    }


def pong(msg: dict) -> dict:
    reply = {"type": "pong", "timestamp": int(time.time() * 1000)}
    if "requestId" in msg:
        reply["requestId"] = msg["requestId"]
    return reply


def room_state(room: str, data: dict, online: int) -> dict:
    state = {
        "roomId": room,
        "roomType": data.get("roomType", "live_stream"),
        "title": room,
        "onlineCount": online,
        "recent": [],
    }
    return {"type": "room_state", "data": state}
