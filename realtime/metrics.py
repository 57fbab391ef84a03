"""Application metrics: prometheus-client counters, gauges and histograms.

One registry per server process, prometheus-client's default mode, not its
multiprocess mode. The deployment runs one uvicorn process per port
(docs/deploy.md), so Prometheus scrapes each process's `/metrics` as a target of
its own and sums in queries; an increment stays an in-memory add (multiprocess
mode writes an mmap file under a lock for each), dead processes leave no files
behind, and per-process series show an unbalanced process. `uvicorn --workers N`
(one port, several processes) is not supported for scraping: a scrape would
reach one worker at random. The live monitor in admin, which needs every process
of every host, reads the snapshots each process writes (`realtime.monitor`).

The hot paths call the functions below once per delivery call, parsed frame or
batch, never once per socket, and each returns at once when `METRICS_ENABLED`
is off (bench/ measures the cost with and without). Label values are bounded:
frame types come from the server's builders or the app's message table, never
from a client.
"""

import bisect
import math
import time
from collections.abc import Callable, Iterator

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from django.conf import settings

from realtime.inbound import MessageTable

CONNECTIONS = Gauge("yyc3_connections", "Open sockets on this process")
AUTHENTICATED = Gauge(
    "yyc3_connections_authenticated", "Signed-in sockets on this process"
)
ROOM_MEMBERS = Gauge(
    "yyc3_room_members", "Sockets in rooms on this process, by room type", ["type"]
)
ROOMS = Gauge(
    "yyc3_rooms_with_members",
    "Rooms with at least one socket on this process (updated by the reporter)",
)
ERRORS = Counter("yyc3_errors", "error frames sent to clients, by code", ["code"])
CLOSES = Counter("yyc3_closes", "Closed sockets, by close code", ["code"])
AUTH_FAILURES = Counter(
    "yyc3_auth_failures", "Sockets refused at authentication", ["reason"]
)
SLOW_CONSUMERS = Counter(
    "yyc3_slow_consumer_closes",
    "Sockets closed with 1013 because their client stopped reading",
)
LAYER_FAILURES = Counter(
    "yyc3_layer_publish_failures",
    "Layer sends that failed or were dropped (the store fills numbered frames in)",
)
GAP_FILLS = Counter("yyc3_gap_fills", "Gaps in numbered topics read from the store")
GAP_FRAMES = Counter(
    "yyc3_gap_fill_frames", "Numbered frames read back from the store to fill gaps"
)
BATCH_ITEMS = Counter(
    "yyc3_batch_items",
    "Items of group-commit batches, stored or refused",
    ["batcher", "outcome"],
)
BATCH_SIZE = Histogram(
    "yyc3_batch_size",
    "Items per group-commit batch",
    ["batcher"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
BATCH_SECONDS = Histogram(
    "yyc3_batch_db_seconds",
    "Seconds a batch took to store (in the database thread, its wait included)",
    ["batcher"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
_LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)


class LoopHistogram:
    """A histogram observed from the event loop's thread only, without a lock:
    a bisect and two additions (prometheus-client's `Histogram.observe` takes a
    lock for the sum and one for the bucket, ~1.5 µs, once per delivery call).
    Exported as an ordinary Prometheus histogram."""

    def __init__(self, name: str, documentation: str, buckets: tuple) -> None:
        self.name, self.documentation = name, documentation
        self.bounds = [float(b) for b in buckets]
        self.counts = [0] * (len(self.bounds) + 1)  # the last: above every bound
        self.sum = 0.0
        REGISTRY.register(self)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self.name, self.documentation)
        counts, total, buckets = list(self.counts), 0, []
        for bound, count in zip([*self.bounds, math.inf], counts, strict=True):
            total += count
            buckets.append((floatToGoString(bound), total))
        family.add_metric([], buckets, self.sum)
        yield family


class LoopCounter:
    """A counter with one label, added to from the event loop's thread only,
    without a lock: one dictionary update (prometheus-client's `inc` is four
    calls and a lock). At most `MAX_LABELS` values; past them, "other"."""

    MAX_LABELS = 100

    def __init__(self, name: str, documentation: str, label: str) -> None:
        self.name, self.documentation, self.label = name, documentation, label
        self.values: dict[str, float] = {}
        REGISTRY.register(self)

    def add(self, value: str, amount: float = 1) -> None:
        values = self.values
        if value in values:
            values[value] += amount
        elif len(values) < self.MAX_LABELS:
            values[value] = amount
        else:
            values["other"] = values.get("other", 0) + amount

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self.name, self.documentation, labels=[self.label])
        for value, total in dict(self.values).items():  # a copy: the loop adds
            family.add_metric([value], total)
        yield family


FRAMES_IN = LoopCounter("yyc3_frames_in", "Client frames parsed, by type", "type")
FRAMES_OUT = LoopCounter(
    "yyc3_frames_out",
    "Frames handed to sockets, by type; a fan-out counts each socket",
    "type",
)
FANOUT_WRITE = LoopHistogram(
    "yyc3_fanout_write_seconds",
    "One delivery's writes to this process's sockets: for a publish here, the "
    "time from the publish to the last socket write",
    _LATENCY_BUCKETS,
)
FANOUT_LATENCY = LoopHistogram(
    "yyc3_fanout_latency_seconds",
    "From a publish on another process to the last socket write here (layer "
    "transit and writes; both processes' clocks)",
    _LATENCY_BUCKETS,
)

clock: Callable[[], float] = time.perf_counter
_TYPE_PREFIX = '{"type":"'


def frame_type(text: str) -> str:
    """Return the `type` of an encoded frame (the envelope puts it first,
    `realtime.wire.frame`), or "other"."""
    if text.startswith(_TYPE_PREFIX):
        end = text.find('"', 9, 49)
        if end > 9:
            return text[9:end]
    return "other"


# --- hot paths: once per call, not per socket ---------------------------------


def delivered(text: str, sockets: int, started: float) -> None:
    """Called by the hub after handing one frame to `sockets` local sockets."""
    if not settings.METRICS_ENABLED:
        return
    FANOUT_WRITE.observe(clock() - started)
    FRAMES_OUT.add(frame_type(text), sockets)


def arrived(message: dict) -> None:
    """Called by the hub after delivering a frame published on another process
    (its layer message carries the publish time, `stamp()`)."""
    if not settings.METRICS_ENABLED:
        return
    at = message.get("at")
    if at is not None:
        FANOUT_LATENCY.observe(max(0.0, time.time() - at))


def stamp() -> float:
    """Return the publish time a layer message carries (wall clock: it is read
    on another process)."""
    return time.time()


def sent(text: str) -> None:
    """Called for a frame sent to one socket."""
    if settings.METRICS_ENABLED:
        FRAMES_OUT.add(frame_type(text))


def received(table: MessageTable, kind: str | None) -> None:
    """Called for each parsed client frame; a type the table does not know
    counts as "unknown"."""
    if settings.METRICS_ENABLED:
        FRAMES_IN.add(kind if kind in table.specs else "unknown")


def error_sent(frame: dict) -> None:
    """Called for a frame sent to one socket: counts `error` frames by code."""
    if frame.get("type") == "error" and settings.METRICS_ENABLED:
        ERRORS.labels(str(frame["data"].get("code"))[:32]).inc()


class BatchMetrics:
    """One batcher's children of the batch metrics."""

    __slots__ = ("seconds", "size", "stored", "refused")

    def __init__(self, name: str) -> None:
        self.seconds = BATCH_SECONDS.labels(name)
        self.size = BATCH_SIZE.labels(name)
        self.stored = BATCH_ITEMS.labels(name, "stored")
        self.refused = BATCH_ITEMS.labels(name, "refused")


_batches: dict[type, BatchMetrics] = {}


def batch_stored(batcher: object, items: list, outcomes: list, started: float) -> None:
    """Called by a Batcher after a batch was stored."""
    if not settings.METRICS_ENABLED:
        return
    kind = type(batcher)
    children = _batches.get(kind)
    if children is None:
        children = _batches[kind] = BatchMetrics(kind.__name__)
    children.seconds.observe(clock() - started)
    children.size.observe(len(items))
    refused = sum(isinstance(outcome, Exception) for outcome in outcomes)
    children.stored.inc(len(outcomes) - refused)
    if refused:
        children.refused.inc(refused)


# --- rare events ----------------------------------------------------------------


def gap_filled(frames: int) -> None:
    """Called when a gap read from the store came back."""
    GAP_FILLS.inc()
    GAP_FRAMES.inc(frames)


def slow_consumer() -> None:
    """Called when an outbox closes its socket with 1013 (backlog full)."""
    SLOW_CONSUMERS.inc()


def layer_failure() -> None:
    """Called when a layer send failed or was dropped."""
    LAYER_FAILURES.inc()
