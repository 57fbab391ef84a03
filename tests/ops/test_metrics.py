"""/metrics after real socket traffic through the ASGI application: every counter
the issue names moves by what the traffic did (issue 14, item 1).

The registry is the process's, shared by every test: each test compares two
scrapes, never absolute values.
"""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from chat.models import Room, RoomType
from realtime import metrics, room_topic, runtime, wire
from realtime.hub import FANOUT, Hub
from realtime.monitor import Reporter
from realtime.ordering import Sequencer
from realtime.outbox import Outbox
from realtime.topics import group_name
from tests import ws
from tests.ops.scrape import moved, scrape, value

ROOM = "ops-circle"
ascrape = sync_to_async(scrape)


async def make_room(room_id: str = ROOM) -> Room:
    return await Room.objects.acreate(
        room_id=room_id, room_type=RoomType.CULTURAL_CIRCLE, title="河洛文化圈"
    )


async def join(comm, room_id: str = ROOM) -> dict:
    return await ws.join(comm, room_id, "cultural_circle")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_socket_traffic_moves_the_counters(
    connect, connect_ready, alice, bob, token_for
):
    """Two members, two chats, one unknown message type, one bad token: frames
    in and out by type, errors and closes by code, the chat writer's batches,
    the open sockets and room members while they last."""
    await make_room()
    before = await ascrape()
    a = await connect_ready(token=token_for(alice))
    b = await connect_ready(token=token_for(bob))
    await join(a)
    await join(b)
    for text in ("你好", "再见"):
        await ws.chat(a, ROOM, text)
        assert (await ws.recv_type(b, "chat", skip=("user_joined",)))["data"][
            "message"
        ] == text
    await ws.send(a, {"type": "no_such_type"})
    assert (await ws.recv_type(a, "error", skip=("user_joined", "chat")))["data"][
        "code"
    ] == "unknown_type"
    refused = await connect(token="not-a-token", auth=False)
    assert (await ws.recv(refused))["type"] == "auth_error"
    assert await ws.expect_close(refused) == 4001
    await refused.disconnect()  # what the server does once its close went out
    during = await ascrape()

    assert moved(before, during, "yyc3_connections") == 2
    assert moved(before, during, "yyc3_connections_authenticated") == 2
    assert moved(before, during, "yyc3_room_members", type="cultural_circle") == 2
    assert moved(before, during, "yyc3_frames_in_total", type="join_room") == 2
    assert moved(before, during, "yyc3_frames_in_total", type="chat") == 2
    assert moved(before, during, "yyc3_frames_in_total", type="unknown") == 1
    # Each chat reached both members (the sender's own copy included).
    assert moved(before, during, "yyc3_frames_out_total", type="chat") == 4
    assert moved(before, during, "yyc3_frames_out_total", type="room_state") == 2
    assert moved(before, during, "yyc3_frames_out_total", type="auth_error") == 1
    assert moved(before, during, "yyc3_errors_total", code="unknown_type") == 1
    assert moved(before, during, "yyc3_auth_failures_total", reason="invalid_token")
    assert moved(before, during, "yyc3_closes_total", code="4001") == 1
    stored = {"batcher": "ChatWriter"}
    assert moved(before, during, "yyc3_batch_items_total", **stored, outcome="stored")
    assert moved(before, during, "yyc3_batch_size_sum", **stored) == 2
    batches = moved(before, during, "yyc3_batch_size_count", **stored)
    assert 1 <= batches <= 2
    assert moved(before, during, "yyc3_batch_db_seconds_count", **stored) == batches
    assert moved(before, during, "yyc3_batch_db_seconds_sum", **stored) > 0
    # One observation per delivery call (chats, joins' user_joined), not per socket.
    writes = moved(before, during, "yyc3_fanout_write_seconds_count")
    assert 2 <= writes < moved(before, during, "yyc3_frames_out_total", type="chat") + 4

    await a.disconnect(code=1000)
    await b.disconnect(code=1001)
    after = await ascrape()
    assert moved(before, after, "yyc3_connections") == 0
    assert moved(before, after, "yyc3_connections_authenticated") == 0
    assert moved(before, after, "yyc3_room_members", type="cultural_circle") == 0
    assert moved(during, after, "yyc3_closes_total", code="1000") == 1
    assert moved(during, after, "yyc3_closes_total", code="1001") == 1


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_client_close_code_outside_the_standard_ones_counts_as_other(
    connect_ready, alice, token_for
):
    """A client chooses its close code (3000-4999): the label stays bounded."""
    before = await ascrape()
    comm = await connect_ready(token=token_for(alice))
    await comm.disconnect(code=3999)
    after = await ascrape()
    assert moved(before, after, "yyc3_closes_total", code="other") == 1
    assert moved(before, after, "yyc3_closes_total", code="3999") == 0


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_with_metrics_off_nothing_is_counted_per_message(
    settings, connect_ready, alice, token_for
):
    """METRICS_ENABLED=0 (bench/ measures the cost with it): no frame, delivery
    or batch is counted; open sockets still are."""
    settings.METRICS_ENABLED = False
    await make_room()
    before = await ascrape()
    a = await connect_ready(token=token_for(alice))
    await join(a)
    await ws.chat(a, ROOM, "quiet")
    await ws.recv_type(a, "chat", skip=("user_joined",))
    after = await ascrape()
    assert moved(before, after, "yyc3_connections") == 1
    for name, labels in [
        ("yyc3_frames_in_total", {"type": "chat"}),
        ("yyc3_frames_out_total", {"type": "chat"}),
        ("yyc3_fanout_write_seconds_count", {}),
        ("yyc3_batch_size_count", {"batcher": "ChatWriter"}),
    ]:
        assert moved(before, after, name, **labels) == 0, name


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_frame_from_another_process_is_timed_from_its_publish(
    connect_ready, alice, token_for
):
    """A fan-out message that comes through the layer from another process
    carries its publish time: its delivery here is observed once."""
    room = await make_room()
    a = await connect_ready(token=token_for(alice))
    await join(a)
    await ws.recv_type(a, "user_joined")
    before = await ascrape()
    text = wire.encode(wire.frame("presence", {"roomId": ROOM, "onlineCount": 7}))
    await get_channel_layer().group_send(
        group_name(room_topic(room.pk)),
        {
            "type": FANOUT,
            "topic": room_topic(room.pk),
            "text": text,
            "origin": "another-process",
            "at": time.time() - 0.05,
        },
    )
    assert (await ws.recv(a))["data"]["onlineCount"] == 7
    after = await ascrape()
    assert moved(before, after, "yyc3_fanout_latency_seconds_count") == 1
    assert moved(before, after, "yyc3_fanout_latency_seconds_sum") >= 0.05
    assert moved(before, after, "yyc3_frames_out_total", type="presence") == 1


@pytest.mark.asyncio
async def test_a_client_that_stops_reading_is_a_slow_consumer_close(settings):
    """The outbox's 1013: a send that never completes, then more than
    WS_OUTBOX_LIMIT frames."""
    settings.WS_OUTBOX_LIMIT = 2
    never = asyncio.get_running_loop().create_future()
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)
        if message["type"] == "websocket.send":
            await never

    before = await ascrape()
    outbox = Outbox(send)
    for _ in range(4):
        outbox.push({"type": "websocket.send", "text": "{}"})
    await outbox.flush()
    after = await ascrape()
    assert sent[-1] == {"type": "websocket.close", "code": 1013}
    assert moved(before, after, "yyc3_slow_consumer_closes_total") == 1
    never.cancel()


class Store:
    """A store holding numbers 1..10 of one topic."""

    def handles(self, topic: str) -> bool:
        return True

    async def heads(self, topics: list[str]) -> dict[str, int]:
        return dict.fromkeys(topics, 10)

    async def read(self, topic: str, after: int, upto: int, limit: int) -> list:
        return [(n, f"frame {n}") for n in range(after + 1, min(upto, 10) + 1)]


@pytest.mark.asyncio
async def test_a_gap_read_from_the_store_is_counted(settings):
    """Frame 5 arrives after 2: 3 and 4 are read back from the store."""
    settings.WS_ORDER_HOLD_SECONDS = 0.01
    got: list[int] = []
    done = asyncio.Event()

    def deliver(topic: str, text: str, seq: int) -> None:
        got.append(seq)
        if seq == 5:
            done.set()

    sequencer = Sequencer(deliver)
    sequencer.source = Store()
    sequencer.seen("room.1", 2)
    before = await ascrape()
    sequencer.receive("room.1", 5, ["frame 5"])
    await asyncio.wait_for(done.wait(), 3)
    after = await ascrape()
    assert got == [3, 4, 5]
    assert moved(before, after, "yyc3_gap_fills_total") == 1
    assert moved(before, after, "yyc3_gap_fill_frames_total") == 2


@pytest.mark.asyncio
async def test_a_failed_layer_send_is_counted():
    """A publish whose layer send fails: logged by the runtime, and counted."""
    hub = Hub()
    await hub.start()

    async def refuse(group: str, message: dict) -> None:
        raise ConnectionError("Redis is away")

    hub.layer.group_send = refuse
    failures: list[str] = []
    hub.on_layer_failure = failures.append
    before = await ascrape()
    hub.publish_soon("room.1", "{}")
    await hub.flush()
    after = await ascrape()
    await hub.stop()
    assert failures == ["room.1"]
    assert moved(before, after, "yyc3_layer_publish_failures_total") == 1


def test_an_encoded_frame_is_labelled_with_its_type():
    """Fan-out counts frames by type from the encoded text (the envelope puts
    `type` first), so a change of the envelope shows here."""
    assert metrics.frame_type(wire.encode(wire.error("x", "y", None))) == "error"
    assert metrics.frame_type(wire.encode(wire.pong("r"))) == "pong"
    assert metrics.frame_type('{"data":{},"type":"chat"}') == "other"
    assert metrics.frame_type("not json") == "other"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_rooms_with_members_is_set_by_the_reporter(
    settings, connect_ready, alice, token_for
):
    """The gauge of rooms with a socket on this process follows the hub."""
    settings.METRICS_REPORT_SECONDS = 0.1
    await make_room()
    a = await connect_ready(token=token_for(alice))
    await join(a)
    await runtime().state(Reporter).report()
    assert value(await ascrape(), "yyc3_rooms_with_members") == 1
