"""Room handlers shared by every route: join, leave, chat, history.

What differs between room types comes from the room's rules (`chat.room_types`);
nothing here tests a room's type.
"""

from channels.db import database_sync_to_async

from django.conf import settings

from chat import delivery, density, events, frames, selectors, services
from chat.exceptions import Forbidden, InvalidMessage, NotInRoom, RoomTypeMismatch
from chat.models import Room
from chat.room_types import RULES, JoinedRoom, OnJoin
from chat.slow_mode import SlowMode
from chat.viewer_counts import ViewerCounts
from chat.writer import ChatWriter
from realtime import Connection, activity, room_topic, runtime, wire
from realtime.inbound import Inbound
from realtime.reads import db_call

# The names of a connection's assistant-reply tasks start with this and the room.
ASSISTANT_TASK = "ai-reply"


def _open_room(*, room_id: str, room_type: str | None, user) -> Room:
    rules = RULES.get(room_type) if room_type else None
    room = services.room_open_for_join(
        room_id=room_id,
        room_type=room_type,
        user=user,
        create=rules.create_on_join if rules else OnJoin.NEVER,
    )
    if RULES[room.room_type].record_membership:
        services.room_member_add(room=room, user=user)
    return room


def _history(*, user, room_id: str, data: dict) -> tuple[list[dict], bool]:
    room = selectors.room_get_for_user(room_id=room_id, user=user)
    return selectors.message_history(
        room=room,
        before=data["before"],
        after=data["after"],
        limit=data["limit"],
        episode=data["episode"],
        from_ms=data["fromMs"],
        to_ms=data["toMs"],
    )


def _chat_draft(*, joined: JoinedRoom, user, data: dict) -> services.ChatDraft:
    return services.ChatDraft(
        room_pk=joined.pk,
        room_id=joined.room_id,
        user=user,
        text=data["message"],
        message_type=data["messageType"],
        client_msg_id=data["clientMsgId"],
        episode=data["episode"],
        playback_ms=data["playbackMs"],
    )


class RoomsMixin(Connection):
    """Room membership of one connection, and the room message handlers."""

    # A room-type route serves one room: chat and history default to it.
    default_room_id: str | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rooms: dict[str, JoinedRoom] = {}

    def room_id_of(self, data: dict) -> str:
        room_id = data.get("roomId") or self.default_room_id
        if room_id is None:
            raise InvalidMessage("'roomId' is required")
        return room_id

    def joined_room(self, room_id: str) -> JoinedRoom:
        joined = self.rooms.get(room_id)
        if joined is None:
            raise NotInRoom(f"join room {room_id} first")
        return joined

    @property
    def user_name(self) -> str:
        return selectors.user_display_name(self.user)

    async def join(
        self,
        room_id: str,
        room_type: str | None,
        request_id: str | None,
        last_message_id: str | None = None,
    ) -> None:
        """Join a room: subscribe, count presence, send room_state (and with
        `last_message_id` a `history` of what was missed), announce."""
        joined = self.rooms.get(room_id)
        if joined is not None and room_type and joined.room_type != room_type:
            raise RoomTypeMismatch(f"room {room_id} is a {joined.room_type} room")
        if joined is None:
            if len(self.rooms) >= settings.WS_MAX_ROOMS_PER_CONNECTION:
                raise Forbidden("joined too many rooms on this connection")
            room = await db_call(
                _open_room, room_id=room_id, room_type=room_type, user=self.user
            )
            runtime().state(SlowMode).remember_room(room)
            density.remember_room(room=room, user=self.user)
            joined = JoinedRoom(
                pk=room.pk,
                room_id=room.room_id,
                room_type=room.room_type,
                title=room.title,
                rules=RULES[room.room_type],
                owner_id=room.owner_id,
            )
            self.rooms[room_id] = joined
            # Subscribe before reading from the database, catching up: a chat
            # committed after the read is published after the subscription and
            # waits for the read; one the read already gave is not sent again.
            try:
                await self.subscribe(room_topic(joined.pk), catch_up=True)
            except Exception:
                del self.rooms[room_id]  # not joined: the client may try again
                raise
            activity.joined(self, joined.room_id, joined.room_type)
            mine, count = await runtime().presence.join(
                selectors.room_presence_key(joined.pk), self.user_id, self.conn_id
            )
            newly_joined = True
        else:
            mine, newly_joined = 0, False
            count = await selectors.room_online_count(room_pk=joined.pk)
        upto = None
        try:
            recent, missed, has_more, upto = await db_call(
                delivery.join_snapshot, joined=joined, last_message_id=last_message_id
            )
            room = {
                "roomId": room_id,
                "roomType": joined.room_type,
                "title": joined.title,
            }
            self.send_frame(frames.room_state(room, count, recent, request_id))
            if missed is not None:
                self.send_frame(frames.history(room_id, missed, has_more, request_id))
        finally:
            if newly_joined:
                self.caught_up(room_topic(joined.pk), upto)
        if mine == 1 and joined.rules.announce_presence(count):
            await events.apresence(
                room_pk=joined.pk,
                kind="user_joined",
                room_id=room_id,
                user_id=self.user_id,
                user_name=self.user_name,
            )
        if newly_joined and joined.rules.counts_viewers:
            runtime().state(ViewerCounts).watch(joined, count)

    async def leave(self, joined: JoinedRoom, announce: bool = True) -> None:
        """Leave a room; user_left goes out when the user's last connection left."""
        if self.rooms.pop(joined.room_id, None) is None:
            return
        activity.left(self, joined.room_id, joined.room_type)
        await self.unsubscribe(room_topic(joined.pk))
        mine, count = await runtime().presence.leave(
            selectors.room_presence_key(joined.pk), self.user_id, self.conn_id
        )
        # The size with this user still in it, as when they joined.
        if announce and mine == 0 and joined.rules.announce_presence(count + 1):
            await events.apresence(
                room_pk=joined.pk,
                kind="user_left",
                room_id=joined.room_id,
                user_id=self.user_id,
                user_name=self.user_name,
            )
        if joined.rules.counts_viewers:
            runtime().state(ViewerCounts).unwatch_if_empty(joined)
        if joined.rules.assistant_replies:
            self.cancel_tasks(f"{ASSISTANT_TASK}:{joined.pk}:")

    async def closing(self) -> None:
        for joined in list(self.rooms.values()):
            await self.leave(joined)

    async def room_closed_by_server(self, topic: str) -> None:
        for joined in list(self.rooms.values()):
            if room_topic(joined.pk) == topic:
                self.send_frame(
                    wire.error(
                        "room_closed",
                        "the room was closed",
                        None,
                        extra={"roomId": joined.room_id},
                    )
                )
                await self.leave(joined, announce=False)

    # --- handlers ----------------------------------------------------------------

    async def on_join_room(self, inbound: Inbound) -> None:
        await self.join(
            inbound.data["roomId"],
            inbound.data["roomType"],
            inbound.request_id,
            inbound.data["lastMessageId"],
        )

    async def on_leave_room(self, inbound: Inbound) -> None:
        joined = self.joined_room(inbound.data["roomId"])
        await self.pipeline_settled()  # the sender sees its last chats first
        await self.leave(joined)

    async def on_chat(self, inbound: Inbound) -> None:
        joined = self.joined_room(self.room_id_of(inbound.data))
        joined.rules.check_anchors(inbound.data)
        await runtime().state(SlowMode).check(self.user, joined)
        if joined.rules.assistant_replies:
            await services.assistant_quota_check(user=self.user)
        stored = (
            runtime()
            .state(ChatWriter)
            .submit(_chat_draft(joined=joined, user=self.user, data=inbound.data))
        )
        if joined.rules.pipeline_chats:
            # Read the next message while this one is stored: a sender's chats
            # then share a transaction instead of each waiting for the last.
            await self.pipeline(
                "chat",
                inbound.request_id,
                stored,
                lambda outcome: self.chat_stored(joined, *outcome),
            )
        else:
            self.chat_stored(joined, *await stored)

    def chat_stored(self, joined: JoinedRoom, data: dict, created: bool) -> None:
        """Called once a chat is stored (and, when new, published to the room)."""
        if not created:
            # A retry of a message already stored: answer this connection only.
            self.send_frame(frames.chat(data))
            return
        if joined.rules.assistant_replies:
            # A task of the connection: leaving the room or closing cancels it.
            stream_id = services.new_stream_id()
            self.spawn(
                f"{ASSISTANT_TASK}:{joined.pk}:{stream_id}",
                services.assistant_answer(
                    room=joined, prompt=data, stream_id=stream_id
                ),
            )

    async def on_history(self, inbound: Inbound) -> None:
        await self.pipeline_settled()  # the history includes the chats sent before
        room_id = self.room_id_of(inbound.data)
        messages, has_more = await database_sync_to_async(_history)(
            user=self.user, room_id=room_id, data=inbound.data
        )
        self.send_frame(frames.history(room_id, messages, has_more, inbound.request_id))
