"""Live viewer counts: one timer per live room per process, running while the
room has viewers here.

Each tick reads the room's count from the presence store (shared by every
process under Redis) and hands it to this process's sockets when it changed, so
a join storm costs one frame per LIVE_STREAM_PRESENCE_INTERVAL, not one per join.
"""

import asyncio
import logging

from django.conf import settings

from chat import events, selectors
from chat.room_types import JoinedRoom
from realtime import room_topic, runtime

logger = logging.getLogger(__name__)


class ViewerCounts:
    """This process's timers (`realtime.runtime().state(ViewerCounts)`)."""

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
        if not runtime().hub.local_count(room_topic(joined.pk)):
            timer = self.timers.pop(joined.pk, None)
            if timer is not None:
                timer.cancel()

    async def _run(self, room_pk: int, room_id: str, last_sent: int) -> None:
        topic = room_topic(room_pk)
        hub = runtime().hub
        while hub.local_count(topic):
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

    def stop(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
