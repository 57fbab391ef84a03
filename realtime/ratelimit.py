"""Rates shared by every server process: Redis when `REDIS_URL` is set, process
memory otherwise, through the `limits` library (sliding-window counters).

- `SharedRates` (async, one per process: `runtime().state(SharedRates)`): socket
  handshakes per address, the abuse score, the shared side of message rates.
- `hit_sync(...)`: the same counters for sync code (the sign-in throttle).
- `UserRates`: messages per user over all their sockets. Each process keeps a
  token bucket per user, shared by that user's sockets and kept across their
  reconnects, and with Redis charges the user's messages to a shared window once
  they reach `WS_USER_RATE_SYNC_EVERY`, at most once a second per user: no Redis
  round trip per message; the slack is what one process lets a user send in a
  second (their local rate), or that many messages.

A counter store that fails (Redis down) lets the request through and logs once
a minute: a limit must not lock everyone out.
"""

import asyncio
import functools
import logging
import time

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage as AsyncMemoryStorage
from limits.aio.storage import RedisStorage as AsyncRedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter as AsyncLimiter
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from django.conf import settings

from realtime.process import runtime

logger = logging.getLogger(__name__)

FAILURE_LOG_SECONDS = 60.0
_failure_logged = float("-inf")


def _item(amount: int, seconds: int) -> RateLimitItem:
    return RateLimitItemPerSecond(max(1, int(amount)), max(1, int(seconds)))


def _store_failed() -> None:
    global _failure_logged
    now = time.monotonic()
    if now - _failure_logged > FAILURE_LOG_SECONDS:
        _failure_logged = now
        logger.warning("rate counters unavailable; letting requests through")


def _key_prefix() -> str:
    return f"{settings.CHANNEL_LAYER_PREFIX}:rl"


class SharedRates:
    """This process's handle on the shared counters."""

    def __init__(self) -> None:
        url = settings.REDIS_URL
        if url:
            self.storage: AsyncRedisStorage | AsyncMemoryStorage = AsyncRedisStorage(
                f"async+{url}",
                implementation="redispy",
                key_prefix=_key_prefix(),
                socket_timeout=2,
                socket_connect_timeout=2,
            )
        else:
            self.storage = AsyncMemoryStorage()
        self.limiter = AsyncLimiter(self.storage)

    async def hit(
        self, name: str, ident: str, amount: int, seconds: int, cost: int = 1
    ) -> bool:
        """Count `cost` against `amount` per `seconds` for (name, ident); return
        False when that would go over (then nothing is counted)."""
        try:
            return await self.limiter.hit(
                _item(amount, seconds),
                settings.CHANNEL_LAYER_PREFIX,
                name,
                ident,
                cost=cost,
            )
        except Exception:  # noqa: BLE001 - fail open, logged
            _store_failed()
            return True


@functools.lru_cache(maxsize=4)
def _sync_limiter(url: str) -> SlidingWindowCounterRateLimiter:
    if url:
        storage: RedisStorage | MemoryStorage = RedisStorage(
            url, key_prefix=_key_prefix(), socket_timeout=2, socket_connect_timeout=2
        )
    else:
        storage = MemoryStorage()
    return SlidingWindowCounterRateLimiter(storage)


def hit_sync(name: str, ident: str, amount: int, seconds: int) -> bool:
    """`SharedRates.hit` for sync code (views run in a worker thread)."""
    try:
        return _sync_limiter(settings.REDIS_URL).hit(
            _item(amount, seconds), settings.CHANNEL_LAYER_PREFIX, name, ident
        )
    except Exception:  # noqa: BLE001 - fail open, logged
        _store_failed()
        return True


# --- messages per user ------------------------------------------------------------

# The shared window a user's messages are charged to (seconds), and how often
# at most a process charges one user (so a fast sender costs one Redis call a
# second, not one per WS_USER_RATE_SYNC_EVERY messages).
USER_WINDOW_SECONDS = 10
USER_CHARGE_INTERVAL = 1.0


def user_rate() -> tuple[float, float]:
    """Return (messages per second, burst) per user over all their sockets."""
    rate = settings.WS_USER_MESSAGES_PER_SECOND or settings.WS_MESSAGES_PER_SECOND
    burst = settings.WS_USER_MESSAGES_BURST or settings.WS_MESSAGES_BURST
    return float(rate), float(burst)


class UserBucket:
    """One user's token bucket in this process, shared by their sockets."""

    __slots__ = (
        "owner",
        "user_id",
        "tokens",
        "at",
        "unsynced",
        "charged_at",
        "blocked_until",
        "refs",
        "rate",
        "burst",
        "sync_every",
    )

    def __init__(self, owner: "UserRates", user_id: str) -> None:
        self.owner = owner
        self.user_id = user_id
        # The settings as of the last socket that took this bucket: read once
        # per connection, not per message.
        self.rate, self.burst = user_rate()
        self.sync_every = settings.WS_USER_RATE_SYNC_EVERY
        self.tokens = self.burst
        self.at = time.monotonic()
        self.unsynced = 0
        self.charged_at = float("-inf")
        self.blocked_until = 0.0
        self.refs = 0

    def take(self, now: float, rate: float, burst: float) -> float:
        """Take a token; return 0, or the seconds to wait when there is none."""
        if now < self.blocked_until:
            return self.blocked_until - now
        self.tokens = min(burst, self.tokens + (now - self.at) * rate)
        self.at = now
        if self.tokens < 1:
            return (1 - self.tokens) / rate
        self.tokens -= 1
        self.unsynced += 1
        return 0.0

    def full(self, now: float, rate: float, burst: float) -> bool:
        return now >= self.blocked_until and (
            self.tokens + (now - self.at) * rate >= burst
        )


class UserRates:
    """Per-process state: the token bucket of each user with a socket here, or
    who had one recently (a reconnect finds the bucket it left)."""

    def __init__(self) -> None:
        self.buckets: dict[str, UserBucket] = {}
        self._released = 0
        self._charging: set[asyncio.Task] = set()

    def acquire(self, user_id: str) -> UserBucket:
        """Return the user's bucket for a socket of theirs (release it on close)."""
        bucket = self.buckets.get(user_id)
        if bucket is None:
            bucket = self.buckets[user_id] = UserBucket(self, user_id)
        else:
            bucket.rate, bucket.burst = user_rate()
            bucket.sync_every = settings.WS_USER_RATE_SYNC_EVERY
        bucket.refs += 1
        return bucket

    def release(self, bucket: UserBucket) -> None:
        bucket.refs -= 1
        self._released += 1
        if self._released >= 256:
            self._released = 0
            self.prune()

    def prune(self) -> None:
        """Forget buckets with no socket that have refilled: a new one is the same."""
        now = time.monotonic()
        for user_id, bucket in list(self.buckets.items()):
            if bucket.refs <= 0 and bucket.full(now, bucket.rate, bucket.burst):
                del self.buckets[user_id]

    def take(self, bucket: UserBucket, now: float) -> float:
        """Take a message from the user's bucket; return 0 or the seconds to
        wait. With Redis, charges the shared window every SYNC_EVERY messages."""
        wait = bucket.take(now, bucket.rate, bucket.burst)
        if (
            bucket.unsynced >= bucket.sync_every
            and now - bucket.charged_at >= USER_CHARGE_INTERVAL
        ):
            bucket.charged_at = now
            self._charge(bucket, bucket.rate, bucket.burst)
        return wait

    def _charge(self, bucket: UserBucket, rate: float, burst: float) -> None:
        count, bucket.unsynced = bucket.unsynced, 0
        if not settings.REDIS_URL:
            return  # one process: the local bucket is the whole count
        task = asyncio.ensure_future(self._charge_shared(bucket, count, rate, burst))
        self._charging.add(task)
        task.add_done_callback(self._charging.discard)

    async def _charge_shared(
        self, bucket: UserBucket, count: int, rate: float, burst: float
    ) -> None:
        allowed = int(burst + rate * USER_WINDOW_SECONDS)
        rates = runtime().state(SharedRates)
        if not await rates.hit(
            "user-messages", bucket.user_id, allowed, USER_WINDOW_SECONDS, count
        ):
            # Over the user's rate across processes: none here until the
            # messages charged meanwhile would have refilled.
            bucket.tokens = 0
            bucket.blocked_until = time.monotonic() + count / rate

    async def stop(self) -> None:
        for task in list(self._charging):
            task.cancel()
