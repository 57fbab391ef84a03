"""ai_assistant: a private room; every chat gets a streamed, then stored, reply.

The offline backend answers from its corpus; the openai backend talks to the
local fake server of tests/chat/ai/fake_openai.py.
"""

import asyncio

import pytest

from chat.ai.offline import compose_answer
from chat.models import ChatMessage, Room
from tests import ws
from tests.chat.ai import fake_openai as fake

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

ROOM = "ai-alice"
API_KEY = "sk-test-SECRET-0123456789abcdef"


@pytest.fixture(autouse=True)
def offline(settings):
    settings.AI_BACKEND = "offline"
    settings.AI_OFFLINE_DELAY_SECONDS = 0
    settings.AI_REPLIES_PER_MINUTE = 100


@pytest.fixture
def openai(settings):
    """The openai backend against the fake; set AI_OPENAI_MODEL to a fake mode."""
    with fake.FakeOpenAIServer() as server:
        settings.AI_BACKEND = "openai"
        settings.AI_OPENAI_BASE_URL = server.base_url
        settings.AI_OPENAI_API_KEY = API_KEY
        settings.AI_OPENAI_MODEL = fake.MODE_NORMAL
        settings.AI_TIMEOUT_SECONDS = 5
        yield server


async def ask(route, comm, text: str) -> dict:
    """Send a chat; return its stored data as broadcast back."""
    await route.chat(comm, text)
    got = await ws.recv_type(comm, "chat", skip=("user_joined",))
    assert got["data"]["message"] == text
    return got["data"]


async def reply(comm) -> tuple[list[dict], dict]:
    """Return the ai_delta data received, then the frame that ended the reply."""
    deltas = []
    while True:
        frame = await ws.recv(comm)
        if frame["type"] == "ai_delta":
            deltas.append(frame["data"])
            continue
        answered = frame["type"] == "chat" and frame["data"]["senderId"] == "assistant"
        failed = frame["type"] == "error" and "streamId" in frame["data"]
        assert answered or failed, f"unexpected {frame}"
        return deltas, frame


async def assistant_messages() -> int:
    return await ChatMessage.objects.filter(sender__isnull=True).acount()


async def test_the_offline_backend_streams_then_stores_the_answer(route, alice):
    comm, state = await route.open(alice, "ai_assistant", ROOM)
    assert state["roomType"] == "ai_assistant"
    prompt = "洛阳牡丹什么时候开？"
    mine = await ask(route, comm, prompt)
    deltas, final = await reply(comm)

    assert len(deltas) > 1
    stream_id = deltas[0]["id"]
    assert {(d["roomId"], d["replyTo"], d["id"]) for d in deltas} == {
        (ROOM, mine["id"], stream_id)
    }
    answer = final["data"]
    assert answer["message"] == "".join(d["delta"] for d in deltas)
    assert answer["message"] == compose_answer(prompt)
    assert answer["senderId"] == "assistant" and answer["senderName"] == "AI助手"
    assert answer["replyTo"] == mine["id"] and answer["streamId"] == stream_id
    assert answer["id"] > mine["id"]

    history = (await route.history(comm))["data"]["messages"]
    assert [m["id"] for m in history] == [mine["id"], answer["id"]]
    assert history[1]["replyTo"] == mine["id"]
    assert "streamId" not in history[1]


async def test_the_room_is_its_owners_only(route, alice, bob):
    await route.open(alice, "ai_assistant", ROOM)
    room = await Room.objects.aget(room_id=ROOM)
    assert room.owner_id == alice.pk
    error = await route.refused(bob, "ai_assistant", ROOM)
    assert error["code"] == "room_not_found"
    # Same answer as a room that does not exist, under any claimed type.
    error = await route.refused(bob, "live_stream", ROOM)
    assert error["code"] == "room_not_found"


async def test_someone_elses_history_is_room_not_found(connect, token_for, alice, bob):
    await Room.objects.acreate(room_id=ROOM, room_type="ai_assistant", owner=alice)
    comm = await connect(token=token_for(bob))
    await ws.send(comm, {"type": "history", "data": {"roomId": ROOM}})
    error = await ws.recv_type(comm, "error", skip=("notification_summary",))
    assert error["data"]["code"] == "room_not_found"


async def test_replies_per_minute_are_limited(route, settings, alice):
    settings.AI_REPLIES_PER_MINUTE = 2
    comm, _ = await route.open(alice, "ai_assistant", ROOM)
    for text in ("河图洛书是什么？", "龙门石窟在哪里？"):
        await ask(route, comm, text)
        assert (await reply(comm))[1]["type"] == "chat"
    await route.chat(comm, "白马寺呢？")
    error = await ws.recv_type(comm, "error")
    assert error["data"]["code"] == "rate_limited"
    assert 0 < error["data"]["retryAfterMs"] <= 60_000
    assert not await ChatMessage.objects.filter(message="白马寺呢？").aexists()


async def test_the_openai_backend_streams_with_the_conversation(route, openai, alice):
    comm, _ = await route.open(alice, "ai_assistant", ROOM)
    first = await ask(route, comm, "洛阳在哪里？")
    deltas, final = await reply(comm)
    assert [d["delta"] for d in deltas] == list(fake.REPLY_CHUNKS)
    assert final["data"]["message"] == "".join(fake.REPLY_CHUNKS)
    assert final["data"]["replyTo"] == first["id"]

    await ask(route, comm, "还有呢？")
    await reply(comm)
    sent = openai.last_request().body["messages"]
    assert [(m["role"], m["content"]) for m in sent[1:]] == [
        ("user", "洛阳在哪里？"),
        ("assistant", "".join(fake.REPLY_CHUNKS)),
        ("user", "还有呢？"),
    ]


@pytest.mark.parametrize(
    "mode", [fake.MODE_HTTP_500, fake.MODE_CUT, fake.MODE_MALFORMED, fake.MODE_ABORT]
)
async def test_a_backend_failure_is_an_error_and_stores_nothing(
    route, openai, settings, alice, mode
):
    settings.AI_OPENAI_MODEL = mode
    comm, _ = await route.open(alice, "ai_assistant", ROOM)
    mine = await ask(route, comm, "洛阳在哪里？")
    _, end = await reply(comm)
    assert end["type"] == "error"
    assert end["data"]["code"] == "ai_unavailable"
    assert end["data"]["ref"] == "chat"
    assert end["data"]["replyTo"] == mine["id"]
    assert API_KEY not in str(end)
    assert await assistant_messages() == 0
    # The socket is fine and the next question is answered.
    settings.AI_OPENAI_MODEL = fake.MODE_NORMAL
    await ask(route, comm, "再问一次")
    assert (await reply(comm))[1]["type"] == "chat"


async def test_a_reply_past_the_deadline_is_cancelled(route, openai, settings, alice):
    settings.AI_OPENAI_MODEL = fake.MODE_SLOW
    settings.AI_REPLY_TIMEOUT_SECONDS = 0.3
    comm, _ = await route.open(alice, "ai_assistant", ROOM)
    await ask(route, comm, "慢慢说")
    deltas, end = await reply(comm)
    assert deltas, "some of the reply streamed before the deadline"
    assert end["type"] == "error" and end["data"]["code"] == "ai_unavailable"
    assert await asyncio.to_thread(openai.last_request().disconnected.wait, 3)
    assert await assistant_messages() == 0


async def test_a_disconnect_cancels_the_reply(route, openai, settings, alice):
    settings.AI_OPENAI_MODEL = fake.MODE_SLOW
    comm, _ = await route.open(alice, "ai_assistant", ROOM)
    await ask(route, comm, "慢慢说")
    assert (await ws.recv(comm))["type"] == "ai_delta"
    await comm.disconnect()
    assert await asyncio.to_thread(openai.last_request().disconnected.wait, 3)
    assert await assistant_messages() == 0


async def test_leaving_the_room_cancels_the_reply(
    openai, settings, connect, token_for, alice
):
    """The asker leaves; the user's other device in the room is told."""
    settings.AI_OPENAI_MODEL = fake.MODE_SLOW
    asker = await connect(token=token_for(alice))
    other = await connect(token=token_for(alice))
    for comm in (asker, other):
        await ws.send(
            comm,
            {"type": "join_room", "data": {"roomId": ROOM, "roomType": "ai_assistant"}},
        )
        await ws.recv_type(
            comm, "room_state", skip=("notification_summary", "user_joined")
        )
    await ws.send(asker, {"type": "chat", "data": {"roomId": ROOM, "message": "慢"}})
    await ws.recv_type(other, "ai_delta", skip=("user_joined", "chat"))
    await ws.send(asker, {"type": "leave_room", "data": {"roomId": ROOM}})
    while (frame := await ws.recv(other))["type"] == "ai_delta":
        pass
    assert frame["type"] == "error" and frame["data"]["code"] == "ai_cancelled"
    assert await asyncio.to_thread(openai.last_request().disconnected.wait, 3)
    assert await assistant_messages() == 0


async def test_the_socket_answers_while_a_reply_streams(route, openai, settings, alice):
    settings.AI_OPENAI_MODEL = fake.MODE_SLOW
    comm, _ = await route.open(alice, "ai_assistant", ROOM)
    await ask(route, comm, "慢慢说")
    await ws.send(comm, {"type": "ping", "requestId": "p"})
    # The fake needs 10 s for its reply: the pong must not wait for it.
    while (frame := await ws.recv(comm))["type"] == "ai_delta":
        pass
    assert frame["type"] == "pong" and frame["requestId"] == "p"
