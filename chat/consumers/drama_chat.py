"""drama_chat: chat about one drama (`drama-<pk>`), open to every signed-in user.

The room of an existing Drama, made on first join. Danmaku is keyed to playback:
a chat may carry `episode` + `playbackMs`, both stored, and `history` with
`episode` + `fromMs`/`toMs` replays that stretch of the episode in playback order
(a player that seeks).
"""

from chat.consumers.route import RoomConsumer
from chat.models import RoomType
from chat.room_types import RULES


class DramaChatConsumer(RoomConsumer):
    rules = RULES[RoomType.DRAMA_CHAT]
