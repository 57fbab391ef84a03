"""Connection hooks: what apps add to every connection, registered in
`AppConfig.ready()`.

- `on_authenticated(fn)`: `await fn(conn, last_notification_id)` right after
  `auth_success` (the notifications app sends the inbox catch-up).
- `on_control(action)(fn)`: `fn(conn, topic, action)` when a server-only
  instruction `{"action": action, ...}` reaches a connection subscribed to
  `topic` (`realtime.pushes.control`); e.g. chat's `kick` and `room_closed`.

- `set_sequence_source(source)`: where numbered frames are read back from to fill
  gaps (`realtime.ordering.SequenceSource`; chat's rooms).

Registering the same function again replaces it (ready() may run twice in tests).
"""

from collections.abc import Awaitable, Callable
from typing import Any

from realtime.ordering import SequenceSource

AuthenticatedHook = Callable[[Any, str | None], Awaitable[None]]
ControlHook = Callable[[Any, str, dict], None]


class Hooks:
    def __init__(self) -> None:
        self._authenticated: dict[str, AuthenticatedHook] = {}
        self.control: dict[str, ControlHook] = {}
        self.sequence_source: SequenceSource | None = None

    @property
    def authenticated(self) -> list[AuthenticatedHook]:
        return list(self._authenticated.values())

    def on_authenticated(self, fn: AuthenticatedHook) -> AuthenticatedHook:
        self._authenticated[f"{fn.__module__}.{fn.__qualname__}"] = fn
        return fn

    def set_sequence_source(self, source: SequenceSource) -> None:
        self.sequence_source = source

    def on_control(self, action: str) -> Callable[[ControlHook], ControlHook]:
        def register(fn: ControlHook) -> ControlHook:
            self.control[action] = fn
            return fn

        return register


hooks = Hooks()
