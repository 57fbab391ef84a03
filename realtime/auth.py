"""Socket authentication: the token (simplejwt) and the Origin check."""

from typing import Any
from urllib.parse import parse_qs, urlparse

from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import connection

from realtime.inbound import SHORT_STRING
from realtime.reads import db_call
from realtime.rows import model_rows
from realtime.wire import INVALID_TOKEN

DEVICE_TYPES = ("web", "mobile", "desktop")
# A socket keeps its user for its whole life: load only what the server reads
# (ids, names, flags, date_joined for the announcements summary), not the
# password hash, e-mail or last login.
SOCKET_USER_FIELDS = (
    "id",
    "username",
    "first_name",
    "last_name",
    "is_active",
    "is_staff",
    "is_superuser",
    "date_joined",
)


class AuthFailed(Exception):
    """The token (or the connection's parameters) cannot authenticate a user."""

    def __init__(self, reason: str = INVALID_TOKEN) -> None:
        self.reason = reason
        super().__init__(reason)


class SocketJWTAuthentication(JWTAuthentication):
    """simplejwt's checks, with the user loaded with SOCKET_USER_FIELDS only."""

    def __init__(self) -> None:
        super().__init__()
        self.user_model = _SocketUserModel(self.user_model)


class _SocketUserModel:
    """The user model as `get_user` sees it: `objects` loads SOCKET_USER_FIELDS."""

    def __init__(self, model) -> None:
        self._model = model
        self.objects = _SocketUsers(model)

    def __getattr__(self, name):  # DoesNotExist and the rest: the model's own
        return getattr(self._model, name)


class _SocketUsers:
    """`get(<field>=<value>)` as simplejwt's `get_user` calls it, in hand-written
    SQL: the ORM's `only(...).get(...)` spent more CPU compiling and building the
    query than the database spent running it, on every connect."""

    def __init__(self, model) -> None:
        self.model = model

    def get(self, **lookup):
        ((name, value),) = lookup.items()
        meta, quote = self.model._meta, connection.ops.quote_name
        value = checked_lookup_value(meta.get_field(name), value, self.model)
        columns = ", ".join(quote(meta.get_field(f).column) for f in SOCKET_USER_FIELDS)
        found = model_rows(
            self.model,
            f"SELECT {columns} FROM {quote(meta.db_table)} "
            f"WHERE {quote(meta.get_field(name).column)} = %s",
            [value],
        )
        if not found:
            raise self.model.DoesNotExist
        return found[0]


def checked_lookup_value(field, value, model):
    """Return a token's user id as the user table's column takes it, or raise
    `model.DoesNotExist`: a validly signed token may still carry "abc" or a
    number past the column's range, which the database would refuse."""
    try:
        value = field.to_python(value)
        field.run_validators(value)
    except (ValidationError, TypeError, ValueError):
        raise model.DoesNotExist from None
    return value


class RestJWTAuthentication(JWTAuthentication):
    """simplejwt's REST authentication; a malformed user id is a 401, not a 500."""

    def get_user(self, validated_token):
        claim = api_settings.USER_ID_CLAIM
        if claim in validated_token:
            field = self.user_model._meta.get_field(api_settings.USER_ID_FIELD)
            try:
                checked_lookup_value(field, validated_token[claim], self.user_model)
            except self.user_model.DoesNotExist:
                raise AuthenticationFailed(
                    "User not found", code="user_not_found"
                ) from None
        return super().get_user(validated_token)


def authenticate(raw: str) -> tuple[Any, float | None]:
    """Return the active user of a valid access token and the token's expiry
    (a Unix time), or raise AuthFailed."""
    auth = SocketJWTAuthentication()
    try:
        validated = auth.get_validated_token(raw.encode())
        user = auth.get_user(validated)
    except (InvalidToken, TokenError, AuthenticationFailed):
        raise AuthFailed() from None
    exp = validated.get("exp")
    return user, float(exp) if isinstance(exp, (int, float)) else None


def authenticate_token(raw: str):
    """Return the active user of a valid access token, or raise AuthFailed."""
    return authenticate(raw)[0]


async def aauthenticate(raw: str) -> tuple[Any, float | None]:
    """`authenticate` in the database thread, in the hop of the calls queued with it."""
    return await db_call(authenticate, raw=raw)


aauthenticate_token = database_sync_to_async(authenticate_token)


def _first(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


async def authenticate_scope(scope) -> tuple[object, dict]:
    """Return the user of the `token` query parameter (or AnonymousUser) and the
    socket's info: clientId, deviceType, lastNotificationId, token_given, and
    `auth_error` (a reason) when the token or the parameters are invalid; the
    consumer then sends `auth_error` and closes with 4001 after accepting."""
    params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    device = _first(params, "deviceType") or "web"
    info: dict[str, Any] = {
        "clientId": _first(params, "clientId") or None,
        "deviceType": device,
        "lastNotificationId": _first(params, "lastNotificationId") or None,
        "token_given": False,
        "auth_error": None,
        "exp": None,
    }
    user: Any = AnonymousUser()
    token = _first(params, "token")
    too_long = [
        name
        for name in ("clientId", "lastNotificationId")
        if info[name] is not None and len(info[name]) > SHORT_STRING
    ]
    if device not in DEVICE_TYPES:
        info["auth_error"] = "deviceType must be web, mobile or desktop"
    elif too_long:
        # Refused, never cut: a cut id would silently name another session.
        info["auth_error"] = f"{too_long[0]} must be 1-{SHORT_STRING} characters"
    elif token:
        info["deviceType"] = DEVICE_TYPES[DEVICE_TYPES.index(device)]  # shared str
        info["token_given"] = True
        try:
            user, info["exp"] = await aauthenticate(token)
        except AuthFailed as exc:
            info["auth_error"] = exc.reason
    return user, info


class SocketOriginValidator(OriginValidator):
    """Refuse foreign browser origins; allow a handshake with no Origin at all.

    Native clients send no Origin, and sockets authenticate by token only, never
    by cookie, so there is nothing to hijack without one.
    """

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)

    def allows(self, scope) -> bool:
        """Return whether the handshake's Origin header (if any) is allowed."""
        parsed = None
        for name, value in scope.get("headers", ()):
            if name == b"origin":
                try:
                    parsed = urlparse(value.decode("latin1"))
                except UnicodeDecodeError:
                    return False
        return self.valid_origin(parsed)


def socket_origin_validator() -> SocketOriginValidator:
    """WS_ALLOWED_ORIGINS, else the allowed hosts on any port."""
    return SocketOriginValidator(
        None, settings.WS_ALLOWED_ORIGINS or list(settings.ALLOWED_HOSTS)
    )
