"""Client errors: a refusal the client caused and can read.

Raised by validators, services and access checks anywhere; turned into an `error`
frame in exactly one place (`Connection.answer_failure`) and into a 4xx response
by the REST views. Apps add their own codes with `client_error`.
"""


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


def client_error(
    name: str, code: str, message: str, http_status: int = 400
) -> type[ClientError]:
    """Return a ClientError subclass with its code, default message and status."""
    return type(
        name,
        (ClientError,),
        {"code": code, "default_message": message, "http_status": http_status},
    )


# The connection's own refusals (the app's table adds the rest).
InvalidJson = client_error(
    "InvalidJson", "invalid_json", "frame is not valid JSON text"
)
InvalidMessage = client_error("InvalidMessage", "invalid_message", "invalid message")
UnknownType = client_error("UnknownType", "unknown_type", "unknown message type")
NotAuthenticated = client_error(
    "NotAuthenticated", "not_authenticated", "authenticate first", 401
)
MessageTooLong = client_error(
    "MessageTooLong", "message_too_long", "message too long", 413
)
RateLimited = client_error("RateLimited", "rate_limited", "slow down", 429)
