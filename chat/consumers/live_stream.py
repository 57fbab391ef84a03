"""live_stream: many viewers, one host.

A stream's room is made on first join. Viewers see the count, not each other:
`room_state.onlineCount` on join, then a `presence` frame at most once per
`LIVE_STREAM_PRESENCE_INTERVAL` when the count changed (`chat.viewer_counts`).
Above `LIVE_STREAM_PRESENCE_THRESHOLD` viewers user_joined/user_left stop. Slow
mode comes from the room (admin) or `ROOM_SLOW_MODE_SECONDS`; danmaku is kept for
`ROOM_HISTORY_RETENTION_HOURS["live_stream"]` (`manage.py purge_danmaku`).
"""

from chat.consumers.route import RoomConsumer
from chat.models import RoomType
from chat.room_types import RULES


class LiveStreamConsumer(RoomConsumer):
    rules = RULES[RoomType.LIVE_STREAM]
