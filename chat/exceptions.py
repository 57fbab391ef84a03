"""Client errors: raised by validators, services and access checks, turned into an
`error` frame (or a 4xx response) in exactly one place each."""


class ClientError(Exception):
    """A refusal the client caused and can read: a contract error code and a message."""

    code = "invalid_message"
    default_message = "invalid message"
    http_status = 400

    def __init__(
        self, message: str | None = None, *, extra: dict | None = None
    ) -> None:
        self.message = message or self.default_message
        self.extra = extra or {}
        super().__init__(self.message)


def _error(name: str, code: str, message: str, http_status: int = 400) -> type:
    return type(
        name,
        (ClientError,),
        {"code": code, "default_message": message, "http_status": http_status},
    )


InvalidJson = _error("InvalidJson", "invalid_json", "frame is not valid JSON text")
InvalidMessage = _error("InvalidMessage", "invalid_message", "invalid message")
UnknownType = _error("UnknownType", "unknown_type", "unknown message type")
NotAuthenticated = _error(
    "NotAuthenticated", "not_authenticated", "authenticate first", 401
)
NotInRoom = _error("NotInRoom", "not_in_room", "join the room first", 409)
RoomNotFound = _error("RoomNotFound", "room_not_found", "room not found", 404)
RoomTypeMismatch = _error(
    "RoomTypeMismatch", "room_type_mismatch", "room is of another type", 409
)
Forbidden = _error("Forbidden", "forbidden", "not allowed", 403)
RoomClosed = _error("RoomClosed", "room_closed", "room is closed", 409)
Muted = _error("Muted", "muted", "you are muted in this room", 403)
MessageTooLong = _error("MessageTooLong", "message_too_long", "message too long", 413)
RateLimited = _error("RateLimited", "rate_limited", "slow down", 429)
ContentBlocked = _error(
    "ContentBlocked", "content_blocked", "message refused by the content filter", 422
)
