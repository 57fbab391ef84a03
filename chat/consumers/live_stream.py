"""live_stream: many viewers, one host.

Viewers see the count, not each other: `room_state.onlineCount` on join, then a
`presence` frame at most once per `LIVE_STREAM_PRESENCE_INTERVAL` when the count
changed. Above `LIVE_STREAM_PRESENCE_THRESHOLD` viewers user_joined/user_left stop.
Slow mode comes from the room (admin) or `ROOM_SLOW_MODE_SECONDS`; danmaku is kept
for `ROOM_HISTORY_RETENTION_HOURS["live_stream"]` (`manage.py purge_danmaku`).
"""

import asyncio
import logging

from django.conf import settings

from chat import events, selectors
from chat.consumers.policy import JoinedRoom, RoomPolicy
from chat.consumers.route import RoomConsumer
from chat.hub import get_hub, room_topic
from chat.models import RoomType
from chat.per_loop import per_event_loop

logger = logging.getLogger(__name__)


class ViewerCounts:
    """One timer per live room per process, running while the room has local viewers.

    Each tick reads the room's count from the presence store (shared by every
    process under Redis) and hands it to this process's sockets when it changed,
    so a join storm costs one frame per interval, not one per join.
    """

    def __init__(self) -> None:
        self.timers: dict[int, asyncio.Task] = {}

    def watch(self, joined: JoinedRoom, online_count: int) -> None:
        if joined.pk in self.timers:
            return
        timer = asyncio.create_task(
            self._run(joined.pk, joined.room_id, online_count),
            name=f"viewer-count-{joined.pk}",
        )
        self.timers[joined.pk] = timer
        timer.add_done_callback(lambda done: self._forget(joined.pk, done))

    def _forget(self, room_pk: int, timer: asyncio.Task) -> None:
        # A cancelled timer may finish after its successor started.
        if self.timers.get(room_pk) is timer:
            del self.timers[room_pk]

    def unwatch_if_empty(self, joined: JoinedRoom) -> None:
        if not get_hub().local_count(room_topic(joined.pk)):
            timer = self.timers.pop(joined.pk, None)
            if timer is not None:
                timer.cancel()

    async def _run(self, room_pk: int, room_id: str, last_sent: int) -> None:
        topic = room_topic(room_pk)
        while get_hub().local_count(topic):
            await asyncio.sleep(settings.LIVE_STREAM_PRESENCE_INTERVAL)
            try:
                count = await selectors.room_online_count(room_pk=room_pk)
            except Exception:
                logger.warning("viewer count of room %s unavailable", room_pk)
                continue
            if count != last_sent:
                events.local_online_count(
                    room_pk=room_pk, room_id=room_id, online_count=count
                )
                last_sent = count


viewer_counts = per_event_loop(ViewerCounts)


class LiveStreamPolicy(RoomPolicy):
    """A stream's room is made on first join; slow mode by default; big rooms count."""

    def announce_presence(self, online_count: int) -> bool:
        return online_count <= settings.LIVE_STREAM_PRESENCE_THRESHOLD

    async def on_joined(self, conn, joined: JoinedRoom, online_count: int) -> None:
        viewer_counts().watch(joined, online_count)

    async def on_left(self, conn, joined: JoinedRoom, online_count: int) -> None:
        viewer_counts().unwatch_if_empty(joined)


class LiveStreamConsumer(RoomConsumer):
    policy = LiveStreamPolicy(room_type=RoomType.LIVE_STREAM, create_on_join="anyone")
