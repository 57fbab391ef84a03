"""Chat's client errors, on the runtime's `ClientError` hierarchy: raised by
validators, services and access checks, turned into an `error` frame (or a 4xx
response) in exactly one place each."""

from realtime.errors import (
    ClientError,
    InvalidJson,
    InvalidMessage,
    MessageTooLong,
    NotAuthenticated,
    RateLimited,
    UnknownType,
    client_error,
)

NotInRoom = client_error("NotInRoom", "not_in_room", "join the room first", 409)
RoomNotFound = client_error("RoomNotFound", "room_not_found", "room not found", 404)
RoomTypeMismatch = client_error(
    "RoomTypeMismatch", "room_type_mismatch", "room is of another type", 409
)
Forbidden = client_error("Forbidden", "forbidden", "not allowed", 403)
RoomClosed = client_error("RoomClosed", "room_closed", "room is closed", 409)
Muted = client_error("Muted", "muted", "you are muted in this room", 403)
ContentBlocked = client_error(
    "ContentBlocked", "content_blocked", "message refused by the content filter", 422
)

__all__ = [
    "ClientError",
    "ContentBlocked",
    "Forbidden",
    "InvalidJson",
    "InvalidMessage",
    "MessageTooLong",
    "Muted",
    "NotAuthenticated",
    "NotInRoom",
    "RateLimited",
    "RoomClosed",
    "RoomNotFound",
    "RoomTypeMismatch",
    "UnknownType",
]
