"""The real-time runtime: connections, topics, fan-out, presence, group commit,
the channel-layer extension and the server protocol. See realtime/README.md.

The apps use this API:

- `Connection`: a socket (subclass it; `send_frame`, `spawn`, `subscribe`, ...).
- `runtime()`: this process's runtime (`state(cls)` for per-process app state).
- `publish`, `publish_on_commit`, `publish_many_on_commit`, `publish_in_order`,
  `publish_local`, `control`, `control_on_commit`: frames and instructions to
  topics.
- `room_topic`, `user_topic`, `ALL_TOPIC`: topic names.
- `hooks`: connection hooks that apps register in `AppConfig.ready()`.
- `Batcher`: group commit of a kind of write.
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from realtime.batching import Batcher
    from realtime.connection import Connection
    from realtime.process import runtime
    from realtime.pushes import (
        control,
        control_on_commit,
        publish,
        publish_in_order,
        publish_local,
        publish_many_on_commit,
        publish_on_commit,
    )
    from realtime.registry import hooks
    from realtime.topics import ALL_TOPIC, room_topic, user_topic

# Loaded on first use: uvicorn imports realtime.wsprotocol before Django is set
# up, and this package must not load models then.
_HOMES = {
    "ALL_TOPIC": "realtime.topics",
    "Batcher": "realtime.batching",
    "Connection": "realtime.connection",
    "control": "realtime.pushes",
    "control_on_commit": "realtime.pushes",
    "hooks": "realtime.registry",
    "publish": "realtime.pushes",
    "publish_in_order": "realtime.pushes",
    "publish_local": "realtime.pushes",
    "publish_many_on_commit": "realtime.pushes",
    "publish_on_commit": "realtime.pushes",
    "room_topic": "realtime.topics",
    "runtime": "realtime.process",
    "user_topic": "realtime.topics",
}


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'realtime' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)


__all__ = [
    "ALL_TOPIC",
    "Batcher",
    "Connection",
    "control",
    "control_on_commit",
    "hooks",
    "publish",
    "publish_in_order",
    "publish_local",
    "publish_many_on_commit",
    "publish_on_commit",
    "room_topic",
    "runtime",
    "user_topic",
]
