"""A connection's life as log lines and metrics: connect, auth failure, join,
leave and close.

One line per event on the `realtime.activity` logger, at INFO, as
`<event> key=value ...`; the same fields go on the record as `fields`, which the
JSON formatter (`LOG_FORMAT=json`, yyc3_realtime/logformat.py) writes as keys.
The socket counts and room memberships kept here are gauges of this process
(`realtime.metrics`); they do not depend on METRICS_ENABLED, which switches
off the per-message counting only.
"""

import logging
import time
from typing import Any, Protocol

from realtime import metrics
from realtime.auth import INVALID_TOKEN
from realtime.monitor import Reporter
from realtime.process import runtime

logger = logging.getLogger(__name__)


class Watched(Protocol):
    """What is read of a connection (`realtime.connection.Connection`)."""

    scope: Any
    user: Any
    user_id: str
    conn_id: str
    opened_at: float
    close_code: int | None


def _log(event: str, **fields: Any) -> None:
    if logger.isEnabledFor(logging.INFO):
        text = " ".join(f"{key}={value}" for key, value in fields.items())
        logger.info(f"{event} {text}", extra={"fields": {"event": event, **fields}})


def _address(conn: Watched) -> str:
    return conn.scope.get("ws", {}).get("address") or "-"


def opened(conn: Watched) -> None:
    """Called once a socket is accepted."""
    metrics.CONNECTIONS.inc()
    runtime().state(Reporter)  # this process reports from its first socket on


def authenticated(conn: Watched) -> None:
    """Called after `auth_success`: the `connect` line."""
    metrics.AUTHENTICATED.inc()
    _log(
        "connect",
        user=conn.user_id,
        conn=conn.conn_id,
        address=_address(conn),
        path=conn.scope.get("path", "-"),
    )


def auth_failed(conn: Watched, reason: str) -> None:
    """Called when a socket's token or parameters are refused."""
    kind = "invalid_token" if reason == INVALID_TOKEN else "bad_parameters"
    metrics.AUTH_FAILURES.labels(kind).inc()
    _log("auth_failure", conn=conn.conn_id, address=_address(conn), reason=kind)


def joined(conn: Watched, room_id: str, room_type: str) -> None:
    """Called when a connection joined a room."""
    metrics.ROOM_MEMBERS.labels(room_type).inc()
    _log("join", user=conn.user_id, conn=conn.conn_id, room=room_id, type=room_type)


def left(conn: Watched, room_id: str, room_type: str) -> None:
    """Called when a connection left a room (or closed while in it)."""
    metrics.ROOM_MEMBERS.labels(room_type).dec()
    _log("leave", user=conn.user_id, conn=conn.conn_id, room=room_id, type=room_type)


def closed(conn: Watched, code: int) -> None:
    """Called when the socket has closed: the code the server sent, else the
    one the server saw (the client's, 1006 when dropped)."""
    label: int | str = code
    if conn.close_code is not None:
        code = label = conn.close_code
    elif not 1000 <= code <= 1015:
        label = "other"  # a client may send any code from 3000 to 4999
    metrics.CONNECTIONS.dec()
    if conn.user is not None:
        metrics.AUTHENTICATED.dec()
    metrics.CLOSES.labels(str(label)).inc()
    _log(
        "close",
        user=conn.user_id or "-",
        conn=conn.conn_id,
        code=code,
        duration=round(time.monotonic() - conn.opened_at, 3),
    )
