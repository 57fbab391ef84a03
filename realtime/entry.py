"""The socket entry: Origin check, token authentication and routing in one step.

This does what `OriginValidator(JwtAuthMiddleware(URLRouter(routes)))` does, in
one ASGI callable. The stacked form keeps a coroutine frame per layer and a scope
copy per layer alive for the socket's whole life (docs/architecture.md has the
cost per idle socket). Here each socket keeps one frame and
one small scope of its own (KEPT_SCOPE_KEYS, `url_route`, `user`, `ws`): nothing
reads the server's scope after the handshake, which lets `wsprotocol` free it.

A refused Origin or an unknown path is closed before `accept()`, which the server
turns into an HTTP 403, as channels' `WebsocketDenier` does.
"""

from __future__ import annotations

from channels.consumer import AsyncConsumer

from django.conf import settings

from realtime.auth import authenticate_scope, socket_origin_validator

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
        found = self.resolve(path) if self.origin_check().allows(scope) else None
        if found is None:
            await deny(receive, send)
            return
        consumer_class, kwargs = found
        own = {key: scope[key] for key in KEPT_SCOPE_KEYS if key in scope}
        own["url_route"] = {"args": (), "kwargs": kwargs}
        own["user"], own["ws"] = await authenticate_scope(scope)
        await consumer_class()(own, receive, send)


async def deny(receive, send) -> None:
    """Refuse the handshake (an HTTP 403 to the client)."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close"})
