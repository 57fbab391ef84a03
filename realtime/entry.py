"""The socket entry: Origin check, token authentication and routing in one step.

This does what `OriginValidator(JwtAuthMiddleware(URLRouter(routes)))` does, in
one ASGI callable. The stacked form keeps a coroutine frame per layer and a scope
copy per layer alive for the socket's whole life (docs/architecture.md has the
cost per idle socket). Here each socket keeps one frame and
one small scope of its own (KEPT_SCOPE_KEYS, `url_route`, `user`, `ws`): nothing
reads the server's scope after the handshake, which lets `wsprotocol` free it.

A refused Origin, an unknown path or a client address outside
`WS_IP_ALLOWLIST` is closed before `accept()`, which the server turns into an
HTTP 403, as channels' `WebsocketDenier` does. A temporarily banned address
(4008) and an address over `WS_HANDSHAKES_PER_SECOND` (4029) are accepted, told
why in an `error` frame and closed, before any database work.

The client address (`realtime.address`) is decided here once and kept as
`scope["ws"]["address"]`.
"""

from __future__ import annotations

import time

from channels.consumer import AsyncConsumer

from django.conf import settings

from realtime import abuse, wire
from realtime.address import allowed, scope_address
from realtime.auth import authenticate_scope, socket_origin_validator
from realtime.bans import ADDRESS, BanList
from realtime.process import runtime
from realtime.ratelimit import SharedRates

CLOSE_POLICY = 4008
CLOSE_TOO_MANY = 4029

# What a consumer may read from its scope. The rest of the server's scope is not
# kept: headers (read for Origin), the query string (parsed into scope["ws"]; it
# holds the token), extensions and state.
KEPT_SCOPE_KEYS = ("type", "scheme", "server", "client", "path", "subprotocols")


class SocketEntry:
    """The `websocket` application: the first of `routes` matching the path runs.

    `routes` are channels-style `re_path(pattern, Consumer.as_asgi())` entries;
    the consumer gets `scope["url_route"]`, `scope["user"]` and `scope["ws"]`
    (see `realtime.auth.authenticate_scope`).
    """

    def __init__(self, routes) -> None:
        self.routes = [
            (route.pattern, route.callback.consumer_class) for route in routes
        ]
        self._origins: tuple[tuple, object] | None = None

    def origin_check(self):
        """Return the Origin validator of the current settings."""
        allowed = tuple(settings.WS_ALLOWED_ORIGINS or settings.ALLOWED_HOSTS)
        if self._origins is None or self._origins[0] != allowed:
            self._origins = (allowed, socket_origin_validator())
        return self._origins[1]

    def resolve(self, path: str) -> tuple[type[AsyncConsumer], dict] | None:
        """Return the consumer class and URL kwargs of a path, or None."""
        for pattern, consumer_class in self.routes:
            match = pattern.match(path)
            if match is not None:
                return consumer_class, match[2]
        return None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "websocket":
            raise ValueError("SocketEntry serves WebSocket connections only")
        path = scope["path"][len(scope.get("root_path", "")) :].lstrip("/")
        address = scope_address(scope)
        found = None
        if allowed(address) and self.origin_check().allows(scope):
            found = self.resolve(path)
        if found is None:
            await deny(receive, send)
            return
        refusal = await admission(address)
        if refusal is not None:
            await refuse(receive, send, *refusal)
            return
        consumer_class, kwargs = found
        own = {key: scope[key] for key in KEPT_SCOPE_KEYS if key in scope}
        own["url_route"] = {"args": (), "kwargs": kwargs}
        own["user"], own["ws"] = await authenticate_scope(scope)
        own["ws"]["address"] = address
        await consumer_class()(own, receive, send)


async def admission(address: str) -> tuple[dict, int] | None:
    """Return the frame and close code refusing a handshake from `address`
    (banned, or over WS_HANDSHAKES_PER_SECOND), or None."""
    here = runtime()
    until = await here.state(BanList).until(ADDRESS, address)
    if until is not None:
        wait_ms = max(1, int((until - time.time()) * 1000))
        message = "temporarily banned for abuse; try again later"
        extra = {"retryAfterMs": wait_ms}
        return wire.error("forbidden", message, None, None, extra), CLOSE_POLICY
    limit = settings.WS_HANDSHAKES_PER_SECOND
    if limit and not await here.state(SharedRates).hit("handshakes", address, limit, 1):
        abuse.RATE_LIMITED.labels("handshake").inc()
        reason = "handshake flood"
        await abuse.charge(
            address=address, user_id=None, points=abuse.POINTS[reason], reason=reason
        )
        message = "too many connections from this address; slow down"
        extra = {"retryAfterMs": 1000}
        return wire.error("rate_limited", message, None, None, extra), CLOSE_TOO_MANY
    return None


async def refuse(receive, send, frame: dict, code: int) -> None:
    """Accept the handshake, send `frame`, close with `code`."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": wire.encode(frame)})
        await send({"type": "websocket.close", "code": code})


async def deny(receive, send) -> None:
    """Refuse the handshake (an HTTP 403 to the client)."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close"})
