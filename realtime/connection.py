"""One WebSocket connection: lifecycle, authentication, limits, dispatch, sending.

`Connection` is a Channels consumer that reads its ASGI events in place: no
channel-layer channel per socket and no task per message, as stock channels has
(`AsyncConsumer.__call__` / `await_many_dispatch`). The process hub
(`realtime.hub`) subscribes connections to topics and hands them pre-encoded
frames. Because a connection has no layer channel, channels' group API
(`group_add`, `channel_layer.group_send` to a handler method) does not work on it
and raises: subscribe with `self.subscribe(topic)` and publish with
`realtime.pushes`.

An app subclasses it with `messages` (its `MessageTable`) and one `on_<type>`
method per handler named there; `ping` and `auth` are handled here. Client
mistakes raise a ClientError, answered with an `error` frame in one place
(`answer_failure`); anything else is a server bug: logged, close 1011.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from redis.exceptions import RedisError

from django.conf import settings

from realtime import abuse, activity, metrics, wire
from realtime.auth import AuthFailed, aauthenticate
from realtime.bans import USER, BanList
from realtime.errors import ClientError, InvalidMessage, NotAuthenticated, RateLimited
from realtime.inbound import (
    Inbound,
    MessageTable,
    frame_too_big,
    message_type_of,
    parse_frame,
    request_id_of,
)
from realtime.outbox import Outbox
from realtime.presence import ADDRESSES, ONLINE
from realtime.process import runtime
from realtime.ratelimit import UserBucket, UserRates
from realtime.registry import hooks
from realtime.topics import ALL_TOPIC, user_topic

logger = logging.getLogger(__name__)

CLOSE_AUTH = 4001
CLOSE_KICKED = 4003
CLOSE_POLICY = 4008
CLOSE_TOO_MANY = 4029
CLOSE_TOO_BIG = 1009
CLOSE_ERROR = 1011
CLOSE_TRY_AGAIN = 1013
# Failures of a service the server needs (Redis down): the client is told
# `unavailable` and the socket closes with CLOSE_TRY_AGAIN, without a traceback.
UNAVAILABLE = (RedisError, OSError)


class NoLayerChannel(NotImplementedError):
    """Raised by channels' group API, which a Connection does not use."""


class Connection(AsyncWebsocketConsumer):
    """One WebSocket connection; subclassed by the app's consumers."""

    # The app's client message table (type -> validator -> handler method).
    messages: ClassVar[MessageTable]
    # Reached through the process hub, not a layer channel per socket.
    channel_layer_alias = None
    groups: ClassVar[list[str]] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user: Any = None
        self.user_id = ""
        self.session_id = ""
        self.conn_id = ""
        self.tasks: dict[str, asyncio.Task] = {}
        self.outbox: Outbox | None = None
        # The auth timeout, then (once authenticated) the token's expiry.
        self._auth_timer: asyncio.TimerHandle | None = None
        self._bad: list[float] = []
        self._tokens = float(settings.WS_MESSAGES_BURST)
        self._tokens_at = time.monotonic()
        self._topics: list[str] = []
        self._address: str | None = None
        self._pipelined: deque[asyncio.Future] | None = None
        self._user_bucket: UserBucket | None = None
        self._abuse_points = 0
        self.opened_at = time.monotonic()
        self.close_code: int | None = None  # the code this server closed with

    async def __call__(self, scope, receive, send) -> None:
        self.scope = scope
        self.base_send = send
        self.conn_id = runtime().connection_id()
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message: dict) -> None:
        # Only ASGI events arrive here. Skips channels' per-message hop to the
        # shared sync thread: database work already runs in database_sync_to_async.
        kind = message["type"]
        if kind == "websocket.receive":
            await self.websocket_receive(message)
        elif kind == "websocket.connect":
            await self.websocket_connect(message)
        elif kind == "websocket.disconnect":
            await self.websocket_disconnect(message)

    # --- what channels offers and a Connection does not --------------------------

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.groups:
            raise TypeError(
                f"{cls.__qualname__}.groups: a Connection joins no layer groups; "
                "call self.subscribe(topic) instead"
            )

    @property
    def channel_layer(self):
        raise NoLayerChannel(
            "a Connection has no channel layer: subscribe with self.subscribe(topic)"
            " and publish with realtime.publish()"
        )

    @channel_layer.setter
    def channel_layer(self, value) -> None:
        raise NoLayerChannel("a Connection has no channel layer")

    # --- sending -----------------------------------------------------------------

    def deliver(self, message: dict) -> None:
        """Queue an ASGI send message (the hub shares one across sockets)."""
        if self.outbox is not None:
            self.outbox.push(message)

    def send_text(self, text: str) -> None:
        """Queue an encoded frame for this socket alone."""
        if self.outbox is not None:
            metrics.sent(text)
            self.outbox.push({"type": "websocket.send", "text": text})

    def send_frame(self, frame: dict) -> None:
        """Queue a frame for this socket alone."""
        metrics.error_sent(frame)
        self.send_text(wire.encode(frame))

    async def close_with(self, code: int) -> None:
        """Close after every frame queued so far has gone out.

        A server that lets an application send only 1000 and 3000-4999 (daphne,
        so `runserver`) gets 4000 + the code's last three digits instead: 1009
        is 4009, 1011 is 4011, 1013 is 4013."""
        if self.outbox is None or self.outbox.closed:
            return
        await self.outbox.flush()
        self.outbox.closed = True
        self.close_code = code
        try:
            await self.base_send({"type": "websocket.close", "code": code})
        except Exception:  # noqa: BLE001 - refused code, or the client is gone
            if code == 1000 or 3000 <= code <= 4999:
                return
            with contextlib.suppress(Exception):  # the client is gone
                await self.base_send(
                    {"type": "websocket.close", "code": 4000 + code % 1000}
                )

    async def end_session(self, action: dict) -> None:
        """Called for a server's `close_user` / `close_address` instruction:
        an error frame with its message, then its close code."""
        message = action.get("message") or "closed by the server"
        self.send_frame(wire.error("forbidden", message, None))
        await self.close_with(int(action.get("code") or CLOSE_KICKED))

    def spawn(self, name: str, coro: Coroutine) -> asyncio.Task:
        """Run `coro` as a task of this connection: cancelled when it closes."""
        task = asyncio.ensure_future(coro)
        self.tasks[name] = task
        task.add_done_callback(lambda _t: self.tasks.pop(name, None))
        return task

    def cancel_tasks(self, prefix: str) -> None:
        """Cancel this connection's tasks whose name starts with `prefix`."""
        for name, task in list(self.tasks.items()):
            if name.startswith(prefix):
                task.cancel()

    # --- topics ------------------------------------------------------------------

    async def subscribe(self, topic: str, catch_up: bool = False) -> None:
        """Receive what is published to `topic` (returns once it will). With
        `catch_up`, frames wait until `caught_up(topic, upto)`."""
        await runtime().subscribe(topic, self, catch_up)

    def caught_up(self, topic: str, upto: int | None) -> None:
        """Called once this connection got a numbered topic's frames up to
        `upto` from the store: frames that came meanwhile follow, newer only."""
        runtime().hub.caught_up(topic, self, upto)

    async def unsubscribe(self, topic: str) -> None:
        await runtime().unsubscribe(topic, self)

    def control(self, topic: str, action: dict) -> None:
        """Called by the hub for a server-only instruction: runs its hook."""
        hook = hooks.control.get(action.get("action", ""))
        if hook is not None:
            hook(self, topic, action)

    # --- lifecycle -----------------------------------------------------------------

    async def connect(self) -> None:
        info = self.scope["ws"]
        self.session_id = info["clientId"] or str(uuid.uuid4())
        self.outbox = Outbox(self.base_send)
        # auth_error + 4001 needs the handshake accepted first: closing before
        # accept() turns into an HTTP 403 the client cannot read.
        await self.accept()
        activity.opened(self)
        try:
            await self._connect(info)
        except UNAVAILABLE as exc:
            await self.unavailable(exc, None)

    async def _connect(self, info: dict) -> None:
        if not await self._address_admitted():
            return
        if info["auth_error"]:
            await self.refuse_auth(info["auth_error"])
        elif self.scope["user"].is_authenticated:
            await self.authenticated(
                self.scope["user"], info["lastNotificationId"], info.get("exp")
            )
        else:
            loop = asyncio.get_running_loop()
            self._auth_timer = loop.call_later(
                settings.WS_AUTH_TIMEOUT,
                lambda: self.spawn("auth-timeout", self.close_with(CLOSE_AUTH)),
            )

    async def _address_admitted(self) -> bool:
        limit = settings.WS_MAX_CONNECTIONS_PER_IP
        if not limit:
            return True
        address = self.scope["ws"].get("address") or "unknown"
        self._address = address
        mine, _ = await runtime().presence.join(ADDRESSES, address, self.conn_id)
        if mine <= limit:
            return True
        self.send_frame(wire.error("rate_limited", "too many connections", None))
        await self.close_with(CLOSE_TOO_MANY)
        return False

    async def refuse_auth(self, reason: str) -> None:
        activity.auth_failed(self, reason)
        self.send_frame(wire.auth_error(reason))
        reason = "failed authentication"
        await self._charge_abuse(abuse.POINTS[reason], reason)
        await self.close_with(CLOSE_AUTH)

    async def token_expired(self) -> None:
        """Called at the access token's expiry: auth_error, then 4001."""
        self.send_frame(wire.auth_error(wire.INVALID_TOKEN))
        await self.close_with(CLOSE_AUTH)

    async def authenticated(
        self, user, last_notification_id: str | None, exp: float | None = None
    ) -> None:
        """Called once a token proved who this is: limits, topics, auth_success;
        the socket closes with 4001 when the token expires (`exp`)."""
        if self._auth_timer is not None:
            self._auth_timer.cancel()
        user_id = str(user.pk)
        banned_until = await runtime().state(BanList).until(USER, user_id)
        if banned_until is not None:
            self.send_frame(_banned_frame(banned_until, "auth"))
            await self.close_with(CLOSE_POLICY)
            return
        self.user, self.user_id = user, user_id
        self._expire_at(exp)
        self._user_bucket = runtime().state(UserRates).acquire(user_id)
        mine, _ = await runtime().presence.join(ONLINE, self.user_id, self.conn_id)
        if mine > settings.WS_MAX_CONNECTIONS_PER_USER:
            self.send_frame(
                wire.error("rate_limited", "too many connections for this user", "auth")
            )
            await self.close_with(CLOSE_TOO_MANY)
            return
        self._topics = [user_topic(user.pk), ALL_TOPIC]
        for topic in self._topics:
            await self.subscribe(topic)
        self.send_frame(wire.auth_success(self.user_id, self.session_id))
        activity.authenticated(self)
        await self.after_authenticated(last_notification_id)

    async def after_authenticated(self, last_notification_id: str | None) -> None:
        """Called after auth_success: runs the apps' `on_authenticated` hooks."""
        for hook in hooks.authenticated:
            await hook(self, last_notification_id)

    def _expire_at(self, exp: float | None) -> None:
        """Close with 4001 at `exp` (a Unix time), unless re-armed by a new
        `auth` for the same user first."""
        if self._auth_timer is not None:
            self._auth_timer.cancel()
            self._auth_timer = None
        if exp is None:
            return
        self._auth_timer = asyncio.get_running_loop().call_later(
            max(0.0, exp - time.time()),
            lambda: self.spawn("token-expired", self.token_expired()),
        )

    async def unavailable(self, exc: BaseException, ref: str | None, request_id=None):
        """A service the server needs failed (Redis down): tell the client, one
        log line, close with 1013 (try again later)."""
        logger.warning("closing a socket: %s (%s)", type(exc).__name__, exc)
        self.send_frame(
            wire.error(
                "unavailable",
                "the server cannot reach a service it needs; try again shortly",
                ref,
                request_id,
                {"retryAfterMs": 1000},
            )
        )
        await self.close_with(CLOSE_TRY_AGAIN)

    async def disconnect(self, code: int) -> None:
        if self._auth_timer is not None:
            self._auth_timer.cancel()
        if self._user_bucket is not None:
            self._user_bucket.owner.release(self._user_bucket)
            self._user_bucket = None
        for task in list(self.tasks.values()):
            task.cancel()
        if self.outbox is not None:
            self.outbox.cancel()
        try:
            await self.closing()
            for topic in self._topics:
                await self.unsubscribe(topic)
            presence = runtime().presence
            if self.user is not None:
                await presence.leave(ONLINE, self.user_id, self.conn_id)
            if self._address is not None:
                await presence.leave(ADDRESSES, self._address, self.conn_id)
            await self._charge_abuse(0, "close")
        except Exception:
            logger.warning("cleanup after disconnect failed", exc_info=True)
        activity.closed(self, code)

    async def closing(self) -> None:
        """Called when the socket has closed, before its topics are left."""

    # --- receiving -------------------------------------------------------------------

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ):
        ref = request_id = None
        try:
            if frame_too_big(text_data, bytes_data):
                self.send_frame(
                    wire.error(
                        "message_too_long",
                        f"frame larger than {settings.WS_MAX_MESSAGE_BYTES} bytes",
                        None,
                    )
                )
                await self.close_with(CLOSE_TOO_BIG)
                return
            msg = parse_frame(text_data, bytes_data)
            ref, request_id = message_type_of(msg), request_id_of(msg)
            metrics.received(self.messages, ref)
            self._take_token()
            spec, inbound = self.messages.validate(msg)
            if spec.needs_auth and self.user is None:
                raise NotAuthenticated("send auth with a token first")
            await getattr(self, spec.handler)(inbound)
        except Exception as exc:  # noqa: BLE001 - answered or logged in failed()
            await self.failed(exc, ref, request_id)

    async def failed(self, exc: Exception, ref: str | None, request_id) -> None:
        """Answer a client mistake with its error frame; close 1013 when a
        service is down, 1011 on a bug."""
        if self.answer_failure(exc, ref, request_id):
            await self._count_bad()
        elif isinstance(exc, UNAVAILABLE):
            await self.unavailable(exc, ref, request_id)
        else:
            await self.close_with(CLOSE_ERROR)

    def answer_failure(self, exc: BaseException, ref: str | None, request_id) -> bool:
        """Send a ClientError's frame and return True; log anything else."""
        if isinstance(exc, ClientError):
            self.send_frame(
                wire.error(exc.code, exc.message, ref, request_id, exc.extra)
            )
            return True
        if not isinstance(exc, UNAVAILABLE):
            logger.error("error handling a %s message", ref, exc_info=exc)
        return False

    async def pipeline(
        self,
        ref: str,
        request_id: str | None,
        pending: asyncio.Future,
        then: Callable[[Any], None],
    ) -> None:
        """Let a message finish in the background while the next is read: once
        `pending` is done, `then(its result)` runs, or its error is answered.
        At most WS_MAX_PIPELINED_MESSAGES at a time (then wait for the oldest)."""
        queue = self._pipelined
        if queue is None:
            queue = self._pipelined = deque()
        while queue and queue[0].done():
            queue.popleft()
        if len(queue) >= settings.WS_MAX_PIPELINED_MESSAGES:
            await asyncio.wait((queue[0],))
        queue.append(pending)
        pending.add_done_callback(
            lambda done: self._pipelined_done(ref, request_id, done, then)
        )

    def _pipelined_done(self, ref, request_id, done: asyncio.Future, then) -> None:
        # A callback, not a task per message: runs in completion order, which
        # is the order the messages were sent.
        if done.cancelled() or self.outbox is None or self.outbox.closed:
            return
        exc = done.exception()
        if exc is None:
            try:
                then(done.result())
                return
            except Exception as error:  # noqa: BLE001 - answered below
                exc = error
        if self.answer_failure(exc, ref, request_id):
            self.spawn(f"bad:{id(done)}", self._count_bad())
        elif isinstance(exc, UNAVAILABLE):
            self.spawn(f"error:{id(done)}", self.unavailable(exc, ref, request_id))
        else:
            self.spawn(f"error:{id(done)}", self.close_with(CLOSE_ERROR))

    async def pipeline_settled(self) -> None:
        """Wait until every pipelined message has been handled."""
        if self._pipelined:
            # Their callbacks were added first, so they have run when this returns.
            await asyncio.wait(tuple(self._pipelined))

    def _take_token(self) -> None:
        now = time.monotonic()
        rate, burst = settings.WS_MESSAGES_PER_SECOND, settings.WS_MESSAGES_BURST
        self._tokens = min(burst, self._tokens + (now - self._tokens_at) * rate)
        self._tokens_at = now
        if self._tokens < 1:
            _rate_limited((1 - self._tokens) / rate, "socket")
        bucket = self._user_bucket
        if bucket is not None:
            # The user's messages over all their sockets and reconnects.
            wait = bucket.owner.take(bucket, now)
            if wait:
                _rate_limited(wait, "user")
        self._tokens -= 1

    async def _count_bad(self) -> None:
        now = time.monotonic()
        self._bad = [t for t in self._bad if now - t < 60] + [now]
        if len(self._bad) > settings.WS_MAX_BAD_MESSAGES_PER_MINUTE:
            # Counted before the close: the ban (if any) is in place when the
            # client reconnects.
            await self._charge_abuse(abuse.POINTS["message flood"], "message flood")
            await self.close_with(CLOSE_POLICY)
        else:
            await self._charge_abuse(abuse.POINTS["refused message"], "", batch=True)

    async def _charge_abuse(self, points: int, reason: str, batch=False) -> None:
        """Add points to this client's abuse score; with `batch`, only once the
        connection has FLUSH_POINTS of them (the rest go when it closes)."""
        self._abuse_points += points
        if batch and self._abuse_points < abuse.FLUSH_POINTS:
            return
        points, self._abuse_points = self._abuse_points, 0
        if points:
            await abuse.charge(
                address=self.scope["ws"].get("address"),
                user_id=self.user_id or None,
                points=points,
                reason=reason or "refused messages",
            )

    # --- the connection's own handlers (named in the app's table) -----------------

    async def on_ping(self, inbound: Inbound) -> None:
        self.send_frame(wire.pong(inbound.request_id))

    async def on_auth(self, inbound: Inbound) -> None:
        try:
            user, exp = await aauthenticate(inbound.data["token"])
        except AuthFailed as exc:
            await self.refuse_auth(exc.reason)
            return
        if self.user is not None:
            if str(user.pk) != self.user_id:
                raise InvalidMessage("this connection is signed in as another user")
            self._expire_at(exp)  # the socket now lives as long as this token
            self.send_frame(wire.auth_success(self.user_id, self.session_id))
            return
        if inbound.data["clientId"]:
            self.session_id = inbound.data["clientId"]
        await self.authenticated(user, inbound.data["lastNotificationId"], exp)


def _rate_limited(wait: float, limit: str) -> None:
    wait_ms = int(wait * 1000) + 1
    abuse.RATE_LIMITED.labels(limit).inc()
    raise RateLimited(
        f"too many messages: wait {wait_ms} ms", extra={"retryAfterMs": wait_ms}
    )


def _banned_frame(until: float, ref: str | None) -> dict:
    wait_ms = max(1, int((until - time.time()) * 1000))
    return wire.error(
        "forbidden",
        "temporarily banned for abuse; try again later",
        ref,
        None,
        {"retryAfterMs": wait_ms},
    )
