"""The abuse score: points per client address and per user, over every process.

Bad frames, refused messages, rate-limit hits, failed authentications and
handshake floods add points (`POINTS`) to a sliding window of
`ABUSE_WINDOW_SECONDS` shared by every process (`realtime.ratelimit`). Whoever
passes `ABUSE_BAN_THRESHOLD` gets a temporary ban (`realtime.bans`): their open
sockets close with 4008 on every process and new ones are refused until it ends
or is lifted in admin.
"""

import time

from channels.db import database_sync_to_async
from prometheus_client import Counter

from django.conf import settings

from realtime.address import UNKNOWN
from realtime.bans import ADDRESS, USER, BanList, ban_create
from realtime.process import runtime
from realtime.ratelimit import SharedRates

POINTS = {
    "refused message": 1,
    "failed authentication": 5,
    "handshake flood": 5,
    "message flood": 20,
}
# A connection adds its points to the shared score once it has this many (and
# when it closes): one shared count per several refusals, not one each.
FLUSH_POINTS = 10

RATE_LIMITED = Counter(
    "yyc3_rate_limited_total", "Requests refused by a rate limit", ["limit"]
)
ABUSE_POINTS = Counter(
    "yyc3_abuse_points_total", "Abuse points counted, by reason", ["reason"]
)


async def charge(
    *, address: str | None, user_id: str | None, points: int, reason: str
) -> bool:
    """Add `points` to the address's and the user's score; ban whichever passes
    the threshold. Return whether a ban was made."""
    if points <= 0:
        return False
    ABUSE_POINTS.labels(reason).inc(points)
    rates = runtime().state(SharedRates)
    bans = runtime().state(BanList)
    banned = False
    for kind, value in (
        (ADDRESS, address if address != UNKNOWN else None),
        (USER, user_id),
    ):
        if not value or await bans.until(kind, value) is not None:
            continue
        if await rates.hit(
            "abuse",
            f"{kind}:{value}",
            settings.ABUSE_BAN_THRESHOLD,
            settings.ABUSE_WINDOW_SECONDS,
            points,
        ):
            continue
        seconds = settings.ABUSE_BAN_SECONDS
        await database_sync_to_async(ban_create)(
            kind=kind, value=value, reason=reason, seconds=seconds
        )
        bans.add(kind, value, time.time() + seconds)
        banned = True
    return banned
