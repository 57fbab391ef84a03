"""Client errors of the inbox, in the `realtime.errors` hierarchy."""

from realtime.errors import ClientError


class NotificationNotFound(ClientError):
    """Missing or someone else's: the same answer, so existence never leaks."""

    code = "not_found"
    default_message = "notification not found"
    http_status = 404
