"""Client frames: parsing, and the table an app declares its message types in.

Client input is parsed here and validated by the app's table (chat/protocol.py);
a client `type` is looked up in the table and never reaches channels' own
`dispatch`, which raises on types it does not know.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from django.conf import settings

from realtime.errors import InvalidJson, InvalidMessage, UnknownType

SHORT_STRING = 64


@dataclass(frozen=True)
class Inbound:
    """A validated client message."""

    type: str
    data: dict[str, Any]
    request_id: str | None


@dataclass(frozen=True)
class Spec:
    """One client message type: its validator and the connection method handling it."""

    validate: Callable[[dict[str, Any]], dict[str, Any]]
    handler: str
    needs_auth: bool = True


class MessageTable:
    """Client message type -> Spec; `validate` turns a parsed frame into Inbound."""

    def __init__(self, specs: Mapping[str, Spec]) -> None:
        self.specs = dict(specs)

    def validate(self, msg: dict) -> tuple[Spec, Inbound]:
        """Return the spec and the validated message, or raise a ClientError."""
        kind = msg.get("type")
        if not isinstance(kind, str):
            raise InvalidMessage("'type' must be a string")
        if "requestId" in msg and request_id_of(msg) is None:
            raise InvalidMessage(
                f"'requestId' must be a 1-{SHORT_STRING} character string"
            )
        spec = self.specs.get(kind)
        if spec is None:
            raise UnknownType(f"unknown message type {kind[:SHORT_STRING]!r}")
        return spec, Inbound(kind, spec.validate(msg), request_id_of(msg))


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


def frame_too_big(text: str | None, raw: bytes | None) -> bool:
    """Return whether a frame is over WS_MAX_MESSAGE_BYTES (UTF-8 bytes, not chars)."""
    limit = settings.WS_MAX_MESSAGE_BYTES
    if text is None:
        return raw is not None and len(raw) > limit
    # A character is 1-4 bytes: encode only when the length alone cannot tell.
    return len(text) > limit or (
        len(text) * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit
    )
