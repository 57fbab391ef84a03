"""Framework internals the runtime relies on, declared and checked once at startup.

Two modules reach past public APIs for speed: `realtime.wsprotocol` (uvicorn's
websockets-sansio protocol and the websockets parser under it, for memory per
socket and read-ahead) and `realtime.layers` (channels-redis's pub/sub layer,
for `group_send_batch`). What each uses is declared here as a `Protocol`, and
`check_uvicorn` / `check_websockets` / `check_channels_redis` verify it against
the installed package when that module is first used, failing with an error
that names the pinned version instead of an AttributeError in the middle of a
socket's life. `realtime.dbthread` uses asgiref's database thread
(`check_asgiref`). requirements.txt pins all four.
"""

import asyncio
import importlib.metadata
import inspect
import re
from typing import Any, Protocol, runtime_checkable

from django.core.exceptions import ImproperlyConfigured

PINNED = {
    "uvicorn": "0.54.0",
    "channels-redis": "4.3.0",
    "websockets": "17.4",
    "asgiref": "3.13.0",
}


class UvicornWebSocketProtocol(Protocol):
    """What realtime.wsprotocol reads or replaces on uvicorn's
    `WebSocketsSansIOProtocol` (besides its public constructor)."""

    queue: Any  # asyncio.Queue of received events, replaced by ReceiveQueue
    writable: Any  # asyncio.Event for write flow control, replaced by Flag
    read_paused: bool
    close_sent: bool
    handshake_complete: bool
    loop: asyncio.AbstractEventLoop
    frames: list
    curr_msg_data_type: Any
    conn: Any  # websockets' ServerProtocol
    client: Any
    transport: asyncio.Transport
    request: Any
    response: Any
    scope: dict
    config: Any  # uvicorn's Config: ws_per_message_deflate
    disconnected: bool

    def send_receive_event_to_app(self) -> None: ...

    def start_keepalive(self) -> None: ...

    async def send(self, message: Any) -> None: ...

    def handle_parser_exception(self) -> None: ...


class WebsocketsStreamReader(Protocol):
    """What realtime.wsprotocol reads on websockets' `StreamReader`."""

    buffer: bytearray

    def at_eof(self) -> Any: ...


class WebsocketsProtocol(Protocol):
    """What realtime.wsprotocol reads or replaces on websockets' sans-I/O
    `Protocol` (uvicorn's `self.conn` is its `ServerProtocol`): the frame parser,
    a generator that `ServerProtocol.parse` starts with the handshake's Request
    in a local variable for the socket's whole life."""

    parser: Any  # the running parse() generator
    reader: WebsocketsStreamReader
    events: list
    # realtime.wsprotocol writes compressed text frames itself when these say
    # the socket is open, between messages, with permessage-deflate agreed.
    state: Any
    expect_continuation_frame: bool
    extensions: list

    def parse(self) -> Any: ...


class WebsocketsServerProtocol(Protocol):
    """What realtime.wsprotocol replaces on websockets' `ServerProtocol`: the
    extension factories a handshake may agree to (realtime.wsframes)."""

    available_extensions: Any


class UvicornH11Protocol(Protocol):
    """What realtime.httpprotocol reads on uvicorn's `H11Protocol`."""

    conn: Any  # the h11.Connection
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    client: Any

    def connection_made(self, transport: asyncio.Transport) -> None: ...

    def connection_lost(self, exc: Exception | None) -> None: ...

    def handle_events(self) -> None: ...

    def on_response_complete(self) -> None: ...


class RedisShard(Protocol):
    """One shard connection of channels-redis's pub/sub layer."""

    _lock: asyncio.Lock
    _redis: Any

    def _ensure_redis(self) -> None: ...


class RedisPubSubLoopLayer(Protocol):
    """channels-redis's per-event-loop pub/sub layer, as realtime.layers uses it."""

    prefix: str
    _shards: list[RedisShard]

    def _get_shard(self, channel_or_group_name: str) -> RedisShard: ...

    def _get_group_channel_name(self, group: str) -> str: ...

    async def group_add(self, group: str, channel: str) -> None: ...

    async def group_discard(self, group: str, channel: str) -> None: ...

    async def group_send(self, group: str, message: dict) -> None: ...

    async def flush(self) -> None: ...


class RedisPubSubChannelLayer(Protocol):
    """channels-redis's pub/sub layer: one loop layer per event loop."""

    def _get_layer(self) -> RedisPubSubLoopLayer: ...


@runtime_checkable
class BatchingLayer(Protocol):
    """A channel layer with the runtime's extension (realtime.layers)."""

    async def group_send_batch(self, items: list[tuple[str, dict]], kind: str) -> None:
        """Send every item's message once to each channel in any of their groups."""

    async def group_renew(self, groups: list[str], channel: str) -> None:
        """Renew `channel`'s recorded memberships in `groups` in one round trip."""


class AsgirefSyncToAsync(Protocol):
    """What realtime.dbthread reads on asgiref's `SyncToAsync` (class level)."""

    single_thread_executor: Any  # the thread every thread-sensitive call runs in
    threadlocal: Any  # main_event_loop(_pid), read by async_to_sync
    thread_sensitive_context: Any


class AsgirefAsyncToSync(Protocol):
    """What realtime.dbthread reads on asgiref's `AsyncToSync` (class level)."""

    executors: Any
    loop_thread_executors: Any


def missing_members(cls: type, protocol: type) -> list[str]:
    """Return the members `protocol` declares that `cls` lacks: methods on the
    class, attributes assigned as `self.<name> = ...` in its source."""
    source = "".join(inspect.getsource(k) for k in cls.__mro__ if k is not object)
    missing = []
    for name in getattr(protocol, "__annotations__", {}):
        assigned = re.search(rf"self\.{name}\s*(:[^=\n]+)?=[^=]", source)
        if not assigned and not hasattr(cls, name):
            missing.append(name)
    for name, value in vars(protocol).items():
        if inspect.isfunction(value) and not callable(getattr(cls, name, None)):
            missing.append(name)
    return missing


def _require(package: str, cls: type, protocol: type, user: str) -> None:
    missing = missing_members(cls, protocol)
    if missing:
        found = importlib.metadata.version(package)
        raise ImproperlyConfigured(
            f"{user} needs {package}=={PINNED[package]} (installed: {found}): "
            f"{cls.__module__}.{cls.__qualname__} has no {', '.join(missing)}. "
            "Install the pinned version from requirements.txt."
        )


def check_uvicorn() -> None:
    """Raise ImproperlyConfigured unless uvicorn has what realtime.wsprotocol uses."""
    from uvicorn.protocols.websockets.websockets_sansio_impl import (
        WebSocketsSansIOProtocol,
    )

    _require(
        "uvicorn",
        WebSocketsSansIOProtocol,
        UvicornWebSocketProtocol,
        "realtime.wsprotocol",
    )


def check_websockets() -> None:
    """Raise ImproperlyConfigured unless websockets has what realtime.wsprotocol
    uses of its sans-I/O protocol."""
    from websockets.protocol import Protocol as SansIOProtocol
    from websockets.server import ServerProtocol
    from websockets.streams import StreamReader

    user = "realtime.wsprotocol"
    _require("websockets", SansIOProtocol, WebsocketsProtocol, user)
    _require("websockets", ServerProtocol, WebsocketsServerProtocol, user)
    _require("websockets", StreamReader, WebsocketsStreamReader, user)


def check_uvicorn_http() -> None:
    """Raise ImproperlyConfigured unless uvicorn has what realtime.httpprotocol
    uses."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    _require("uvicorn", H11Protocol, UvicornH11Protocol, "realtime.httpprotocol")


def check_channels_redis() -> None:
    """Raise ImproperlyConfigured unless channels-redis has what realtime.layers
    uses."""
    from channels_redis import pubsub

    user = "realtime.layers"
    _require(
        "channels-redis", pubsub.RedisPubSubChannelLayer, RedisPubSubChannelLayer, user
    )
    _require("channels-redis", pubsub.RedisPubSubLoopLayer, RedisPubSubLoopLayer, user)
    _require("channels-redis", pubsub.RedisSingleShardConnection, RedisShard, user)


def check_asgiref() -> None:
    """Raise ImproperlyConfigured unless asgiref has what realtime.dbthread uses."""
    from asgiref.sync import AsyncToSync, SyncToAsync

    user = "realtime.dbthread"
    _require("asgiref", SyncToAsync, AsgirefSyncToAsync, user)
    _require("asgiref", AsyncToSync, AsgirefAsyncToSync, user)
