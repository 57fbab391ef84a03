"""drama_chat: chat about one drama (`drama-<pk>`), open to every signed-in user.

Danmaku is keyed to playback: a chat may carry `episode` + `playbackMs`, both
stored, and `history` with `episode` + `fromMs`/`toMs` replays that stretch of
the episode in playback order (a player that seeks).
"""

from chat.consumers.policy import RoomPolicy
from chat.consumers.route import RoomConsumer
from chat.models import RoomType


class DramaChatPolicy(RoomPolicy):
    """The room of an existing Drama, made on first join; chats may be danmaku."""


class DramaChatConsumer(RoomConsumer):
    policy = DramaChatPolicy(
        room_type=RoomType.DRAMA_CHAT,
        create_on_join="drama",
        create_via_api="never",
        playback_anchors=True,
    )
