"""Socket handshake security: the JWT middleware and the Origin check."""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from django.conf import settings
from django.contrib.auth.models import AnonymousUser

INVALID_TOKEN = "Token无效或已过期"
DEVICE_TYPES = ("web", "mobile", "desktop")


class AuthFailed(Exception):
    """The token (or the connection's parameters) cannot authenticate a user."""

    def __init__(self, reason: str = INVALID_TOKEN) -> None:
        self.reason = reason
        super().__init__(reason)


def authenticate_token(raw: str):
    """Return the active user of a valid access token, or raise AuthFailed."""
    auth = JWTAuthentication()
    try:
        validated = auth.get_validated_token(raw.encode())
        return auth.get_user(validated)
    except (InvalidToken, TokenError, AuthenticationFailed):
        raise AuthFailed() from None


aauthenticate_token = database_sync_to_async(authenticate_token)


def _first(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


class JwtAuthMiddleware(BaseMiddleware):
    """Set `scope["user"]` from the `token` query parameter (like AuthMiddleware).

    Also sets `scope["ws"]`: clientId, deviceType, lastNotificationId, and
    `auth_error` (a reason) when the query's token or parameters are invalid; the
    consumer then sends `auth_error` and closes with 4001 after accepting.
    """

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        info = {
            "clientId": (_first(params, "clientId") or "")[:64] or None,
            "deviceType": _first(params, "deviceType") or "web",
            "lastNotificationId": (_first(params, "lastNotificationId") or "")[:64]
            or None,
            "token_given": False,
            "auth_error": None,
        }
        scope["user"] = AnonymousUser()
        token = _first(params, "token")
        if info["deviceType"] not in DEVICE_TYPES:
            info["auth_error"] = "deviceType must be web, mobile or desktop"
        elif token:
            info["token_given"] = True
            try:
                scope["user"] = await aauthenticate_token(token)
            except AuthFailed as exc:
                info["auth_error"] = exc.reason
        scope["ws"] = info
        # `scope` is already our own copy: skip BaseMiddleware's second one
        # (it is kept for every open socket).
        return await self.inner(scope, receive, send)


def JwtAuthMiddlewareStack(inner):  # noqa: N802 - named like channels' AuthMiddlewareStack
    return JwtAuthMiddleware(inner)


class SocketOriginValidator(OriginValidator):
    """Refuse foreign browser origins; allow a handshake with no Origin at all.

    Native clients send no Origin, and sockets authenticate by token only, never
    by cookie, so there is nothing to hijack without one.
    """

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)


def socket_origin_validator(inner):
    """Wrap `inner`: WS_ALLOWED_ORIGINS, else the allowed hosts on any port."""
    return SocketOriginValidator(
        inner, settings.WS_ALLOWED_ORIGINS or list(settings.ALLOWED_HOSTS)
    )
