"""Property-based fuzzing (hypothesis) through the real ASGI application, over
every client message type: each input gets exactly one answer or a documented
close; never 1011, never an exception logged, no row written for a refused
input, and the socket still answers `ping` afterwards.

The example count is bounded (FUZZ_EXAMPLES, default 300) so CI stays well
under a minute; `FUZZ_EXAMPLES=2000` digs deeper locally.
"""

import json
import logging
import os

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.models import ChatMessage, Room, RoomMember, RoomType
from tests import ws

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
CIRCLE = "circle-1"
TYPES = ["ping", "auth", "chat", "join_room", "leave_room", "history"]
# What a socket may receive besides the answer to its own message.
BROADCASTS = {"user_joined", "user_left", "presence", "notification_summary"}
# Close codes of PROTOCOL.md section 5 that fuzzed input may earn.
DOCUMENTED_CLOSES = {4001, 4008, 4029, 1009}
FIELDS = [
    "roomId",
    "roomType",
    "message",
    "messageType",
    "clientMsgId",
    "lastMessageId",
    "before",
    "after",
    "limit",
    "episode",
    "playbackMs",
    "fromMs",
    "toMs",
    "token",
    "clientId",
    "timestamp",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=80),
    st.sampled_from(
        [
            CIRCLE,
            "drama-1",
            "ai-alice",
            "live_stream",
            "cultural_circle",
            "text",
            "image",
            "https://x.example/a.png",
            "000000000001",
            "a\x00b",
            "x" * 65,
            "",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(FIELDS), inner, max_size=3)
    ),
    max_leaves=6,
)
messages = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES) | st.text(max_size=10)},
    optional={
        "data": st.dictionaries(st.sampled_from(FIELDS), values, max_size=6) | values,
        "requestId": st.text(max_size=70) | st.integers(),
        "token": values,
        "clientId": values,
        "timestamp": values,
    },
)
frames = st.one_of(
    messages.map(lambda m: ("text", json.dumps(m, ensure_ascii=False))),
    st.text(max_size=200).map(lambda t: ("text", t)),
    st.binary(max_size=64).map(lambda b: ("bytes", b)),
)


@pytest.fixture
def fuzz_settings(settings):
    """Nothing here is about rates: many sockets, many refusals, from one user."""
    settings.WS_MESSAGES_BURST = 1_000_000
    settings.WS_MESSAGES_PER_SECOND = 1_000_000
    settings.WS_HANDSHAKES_PER_SECOND = 0
    settings.WS_MAX_BAD_MESSAGES_PER_MINUTE = 1_000_000
    settings.ABUSE_BAN_THRESHOLD = 1_000_000_000
    settings.CULTURAL_CIRCLE_SLOW_MODE_SECONDS = 0


async def rows() -> tuple[int, int, int]:
    return (
        await Room.objects.acount(),
        await ChatMessage.objects.acount(),
        await RoomMember.objects.acount(),
    )


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(frame=frames, joined=st.booleans())
async def test_every_input_gets_one_answer_or_a_documented_close(
    connect, fuzz_settings, alice, token_for, caplog, frame, joined
):
    if not await Room.objects.filter(room_id=CIRCLE).aexists():
        await Room.objects.acreate(room_id=CIRCLE, room_type=RoomType.CULTURAL_CIRCLE)
    caplog.clear()
    caplog.set_level(logging.WARNING)
    comm = await connect(token=token_for(alice))
    try:
        await ws.settle(comm)
        if joined:
            await ws.join(comm, CIRCLE, "cultural_circle")
            await ws.recv_type(comm, "user_joined")
        before = await rows()
        kind, payload = frame
        if kind == "text":
            await ws.send_raw(comm, text=payload)
        else:
            await ws.send_raw(comm, data=payload)
        await ws.send(comm, {"type": "ping", "requestId": "fuzz-after"})
        answers, closed = [], None
        while True:
            message = await comm.receive_output(5)
            if message["type"] == "websocket.close":
                closed = message.get("code", 1000)
                break
            got = orjson.loads(message["text"])
            if got.get("requestId") == "fuzz-after":
                assert got["type"] == "pong"
                break
            if got["type"] not in BROADCASTS:
                answers.append(got)
        if closed is not None:
            assert closed in DOCUMENTED_CLOSES, (frame, answers, closed)
        else:
            kinds = [a["type"] for a in answers]
            assert kinds in (
                [kinds[0]] if kinds else None,
                ["room_state", "history"],
            ), (frame, answers)
            if kinds[0] == "error":
                assert await rows() == before, frame
        logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert not logged, (frame, [r.getMessage() for r in logged])
    finally:
        await comm.disconnect()
