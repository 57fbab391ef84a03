"""Bad input never kills a socket: each gets an `error` frame with the contract's
code, and the same socket still answers `ping`. Abuse limits close it (4008, 1009).
"""

import logging

import orjson
import pytest
import pytest_asyncio

from chat.models import ChatMessage, Room, RoomType
from tests import ws
from tests.chat.test_protocol_frames import assert_frame, frame_problems

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

DEEP = 200
HUGE = "9" * 5000


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def chat_data(**data) -> str:
    body = {"roomId": "circle-1", "message": "你好", **data}
    return orjson.dumps({"type": "chat", "data": body}).decode()


def join_data(**data) -> str:
    body = {"roomId": "circle-1", "roomType": "cultural_circle", **data}
    return orjson.dumps({"type": "join_room", "data": body}).decode()


def history_data(**data) -> str:
    body = {"roomId": "circle-1", **data}
    return orjson.dumps({"type": "history", "data": body}).decode()


# (id, text frame, error code, ref): ref None means the frame has no `ref`.
TEXT_CASES = [
    ("not-json", "hello", "invalid_json", None),
    ("truncated", '{"type": "ping"', "invalid_json", None),
    ("single-quotes", "{'type': 'ping'}", "invalid_json", None),
    ("trailing-comma", '{"type": "ping",}', "invalid_json", None),
    ("empty", "", "invalid_json", None),
    ("whitespace", " \n\t ", "invalid_json", None),
    ("nan", "NaN", "invalid_json", None),
    ("nan-field", '{"type": "ping", "timestamp": NaN}', "invalid_json", None),
    ("infinity", '{"type": "ping", "timestamp": Infinity}', "invalid_json", None),
    ("lone-surrogate-escape", chat_data()[:-3] + '\\ud800"}}', "invalid_json", None),
    ("lone-low-surrogate", '{"type": "ping", "x": "\\udc00"}', "invalid_json", None),
    ("lone-surrogate-raw", '{"type": "ping", "x": "\ud800"}', "invalid_json", None),
    (
        "huge-number",
        '{"type": "ping", "timestamp": ' + HUGE + "}",
        "invalid_json",
        None,
    ),
    (
        "huge-negative",
        '{"type": "ping", "timestamp": -' + HUGE + "}",
        "invalid_json",
        None,
    ),
    ("huge-float", '{"type": "ping", "timestamp": 1e999}', "invalid_json", None),
    ("huge-bare", HUGE, "invalid_json", None),
    (
        "huge-limit",
        history_data()[:-2] + ', "limit": ' + HUGE + "}}",
        "invalid_json",
        None,
    ),
    ("very-deep", nested(2000), "invalid_json", None),
    ("deep", '{"type": "ping", "x": ' + nested(DEEP) + "}", "invalid_message", None),
    (
        "deep-data",
        '{"type": "chat", "data": ' + '{"a":' * 9 + "1" + "}" * 10,
        "invalid_message",
        None,
    ),
    ("array", "[]", "invalid_message", None),
    ("string", '"ping"', "invalid_message", None),
    ("number", "42", "invalid_message", None),
    ("null", "null", "invalid_message", None),
    ("no-type", '{"data": {}}', "invalid_message", None),
    ("type-number", '{"type": 5}', "invalid_message", None),
    ("type-null", '{"type": null}', "invalid_message", None),
    ("type-object", '{"type": {"a": 1}}', "invalid_message", None),
    ("unknown-type", '{"type": "bogus"}', "unknown_type", "bogus"),
    ("unknown-empty-type", '{"type": ""}', "unknown_type", None),
    ("server-type", '{"type": "pong", "timestamp": 1}', "unknown_type", "pong"),
    (
        "channels-handler",
        '{"type": "websocket.disconnect"}',
        "unknown_type",
        "websocket.disconnect",
    ),
    ("dunder", '{"type": "__init__"}', "unknown_type", "__init__"),
    ("handler-name", '{"type": "on_ping"}', "unknown_type", "on_ping"),
    (
        "ping-timestamp-string",
        '{"type": "ping", "timestamp": "1"}',
        "invalid_message",
        "ping",
    ),
    (
        "ping-timestamp-bool",
        '{"type": "ping", "timestamp": true}',
        "invalid_message",
        "ping",
    ),
    (
        "request-id-number",
        '{"type": "ping", "requestId": 5}',
        "invalid_message",
        "ping",
    ),
    (
        "request-id-long",
        '{"type": "ping", "requestId": "' + "r" * 65 + '"}',
        "invalid_message",
        "ping",
    ),
    (
        "request-id-empty",
        '{"type": "ping", "requestId": ""}',
        "invalid_message",
        "ping",
    ),
    ("chat-no-data", '{"type": "chat"}', "invalid_message", "chat"),
    ("chat-data-list", '{"type": "chat", "data": []}', "invalid_message", "chat"),
    ("chat-data-string", '{"type": "chat", "data": "hi"}', "invalid_message", "chat"),
    ("chat-no-message", chat_data(message=None), "invalid_message", "chat"),
    ("chat-message-number", chat_data(message=5), "invalid_message", "chat"),
    ("chat-message-list", chat_data(message=["hi"]), "invalid_message", "chat"),
    ("chat-message-blank", chat_data(message="  \n "), "invalid_message", "chat"),
    ("chat-message-type", chat_data(messageType="video"), "invalid_message", "chat"),
    ("chat-message-type-number", chat_data(messageType=1), "invalid_message", "chat"),
    (
        "chat-image-http",
        chat_data(messageType="image", message="http://x.example/a.png"),
        "invalid_message",
        "chat",
    ),
    (
        "chat-image-not-url",
        chat_data(messageType="image", message="a cat"),
        "invalid_message",
        "chat",
    ),
    ("chat-room-id-number", chat_data(roomId=1), "invalid_message", "chat"),
    ("chat-room-id-bad", chat_data(roomId="a b"), "invalid_message", "chat"),
    (
        "chat-client-msg-id-long",
        chat_data(clientMsgId="m" * 65),
        "invalid_message",
        "chat",
    ),
    ("chat-client-msg-id-empty", chat_data(clientMsgId=""), "invalid_message", "chat"),
    ("chat-client-msg-id-number", chat_data(clientMsgId=7), "invalid_message", "chat"),
    ("chat-episode-negative", chat_data(episode=-1), "invalid_message", "chat"),
    ("chat-episode-float", chat_data(episode=1.5), "invalid_message", "chat"),
    (
        "chat-episode-over-int4",
        chat_data(episode=2**31, playbackMs=1),
        "invalid_message",
        "chat",
    ),
    (
        "chat-playback-over-2-53",
        chat_data(episode=1, playbackMs=2**53),
        "invalid_message",
        "chat",
    ),
    (
        "history-episode-over-int4",
        history_data(episode=2**31),
        "invalid_message",
        "history",
    ),
    ("chat-playback-bool", chat_data(playbackMs=True), "invalid_message", "chat"),
    # PostgreSQL refuses U+0000 in text: refused up front on every backend.
    ("nul-message", chat_data(message="a\u0000b"), "invalid_message", "chat"),
    ("nul-client-msg-id", chat_data(clientMsgId="x\u0000"), "invalid_message", "chat"),
    (
        "nul-last-message-id",
        join_data(lastMessageId="000000000001\u0000"),
        "invalid_message",
        "join_room",
    ),
    (
        "last-message-id-not-an-id",
        join_data(lastMessageId="latest"),
        "invalid_message",
        "join_room",
    ),
    ("join-no-room-id", join_data(roomId=None), "invalid_message", "join_room"),
    ("join-room-id-empty", join_data(roomId=""), "invalid_message", "join_room"),
    ("join-room-id-long", join_data(roomId="r" * 65), "invalid_message", "join_room"),
    ("join-room-id-space", join_data(roomId="room 1"), "invalid_message", "join_room"),
    ("join-room-id-slash", join_data(roomId="../etc"), "invalid_message", "join_room"),
    ("join-room-id-unicode", join_data(roomId="房间"), "invalid_message", "join_room"),
    (
        "join-room-id-newline",
        join_data(roomId="room\n"),
        "invalid_message",
        "join_room",
    ),
    ("join-room-id-list", join_data(roomId=["r"]), "invalid_message", "join_room"),
    (
        "join-room-type-other",
        join_data(roomType="drama"),
        "invalid_message",
        "join_room",
    ),
    (
        "join-room-type-case",
        join_data(roomType="Drama_Chat"),
        "invalid_message",
        "join_room",
    ),
    ("join-room-type-number", join_data(roomType=1), "invalid_message", "join_room"),
    ("leave-no-data", '{"type": "leave_room"}', "invalid_message", "leave_room"),
    (
        "leave-room-id-bad",
        '{"type": "leave_room", "data": {"roomId": "#"}}',
        "invalid_message",
        "leave_room",
    ),
    ("history-limit-zero", history_data(limit=0), "invalid_message", "history"),
    ("history-limit-string", history_data(limit="10"), "invalid_message", "history"),
    ("history-limit-bool", history_data(limit=True), "invalid_message", "history"),
    ("history-limit-float", history_data(limit=1.5), "invalid_message", "history"),
    (
        "history-limit-big-float",
        history_data(limit=1e300),
        "invalid_message",
        "history",
    ),
    ("history-before-bad", history_data(before="abc"), "invalid_message", "history"),
    (
        "history-before-newline",
        history_data(before="000000000001\n"),
        "invalid_message",
        "history",
    ),
    (
        "history-after-newline",
        history_data(after="000000000001-5\n"),
        "invalid_message",
        "history",
    ),
    ("history-after-number", history_data(after=12), "invalid_message", "history"),
    (
        "history-no-room",
        '{"type": "history", "data": {}}',
        "invalid_message",
        "history",
    ),
    ("auth-no-token", '{"type": "auth"}', "invalid_message", "auth"),
]


@pytest_asyncio.fixture
async def sock(connect_ready, alice, token_for):
    await Room.objects.acreate(room_id="circle-1", room_type=RoomType.CULTURAL_CIRCLE)
    return await connect_ready(token=token_for(alice))


@pytest.fixture
def no_error_logs(caplog):
    """Fail if a client mistake logged an error (a traceback)."""
    caplog.set_level(logging.WARNING)
    yield
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]


async def expect_error(comm, code: str, ref: str | None) -> dict:
    frame = assert_frame(await ws.recv(comm))
    assert frame["type"] == "error", frame
    assert frame["data"]["code"] == code, frame
    assert frame["data"].get("ref") == ref, frame
    assert set(frame["data"]) == {"code", "message"} | ({"ref"} if ref else set())
    return frame


def error_problems(frame: dict, code: str, ref: str | None) -> list[str]:
    keys = {"code", "message"} | ({"ref"} if ref else set())
    if frame.get("type") != "error":
        return [f"not an error: {frame}"]
    data = frame["data"]
    return [
        *frame_problems(frame),
        *([f"code {data['code']!r}"] if data["code"] != code else []),
        *([f"ref {data.get('ref')!r}"] if data.get("ref") != ref else []),
        *([f"keys {sorted(data)}"] if set(data) != keys else []),
    ]


@pytest.mark.usefixtures("no_error_logs")
async def test_every_bad_text_frame_gets_its_error_and_the_socket_lives(
    connect_ready, alice, token_for, settings
):
    """One socket takes every case of TEXT_CASES in a row, answering ping after each."""
    settings.WS_MAX_BAD_MESSAGES_PER_MINUTE = 10 * len(TEXT_CASES)
    settings.WS_MESSAGES_BURST = 10 * len(TEXT_CASES)
    await Room.objects.acreate(room_id="circle-1", room_type=RoomType.CULTURAL_CIRCLE)
    sock = await connect_ready(token=token_for(alice))
    failures = {}
    for name, text, code, ref in TEXT_CASES:
        try:
            await ws.send_raw(sock, text)
            problems = error_problems(await ws.recv(sock), code, ref)
            pong = await ws.ping(sock, name[:64])
        except AssertionError as exc:  # the socket died: no later case can run
            raise AssertionError(f"case {name}: {exc}") from exc
        if pong.get("requestId") != name[:64]:
            problems.append(f"ping answered {pong}")
        if problems:
            failures[name] = problems
    assert not failures


@pytest.mark.usefixtures("no_error_logs")
@pytest.mark.parametrize(
    "data", [b"\x00\x01\x02", b'{"type": "ping"}', b""], ids=["bytes", "json", "empty"]
)
async def test_binary_frame_is_invalid_json(sock, data):
    await ws.send_raw(sock, data=data)
    await expect_error(sock, "invalid_json", None)
    await ws.ping(sock)


async def test_error_echoes_the_request_id(sock):
    await ws.send(sock, {"type": "bogus", "requestId": "req-7"})
    frame = await expect_error(sock, "unknown_type", "bogus")
    assert frame["requestId"] == "req-7"
    await ws.send(sock, {"type": "chat", "data": {"roomId": "r"}, "requestId": "c-1"})
    frame = await expect_error(sock, "invalid_message", "chat")
    assert frame["requestId"] == "c-1"


async def test_unknown_fields_are_ignored(sock):
    await ws.send(sock, {"type": "ping", "timestamp": 1, "extra": {"a": [1, 2]}})
    assert (await ws.recv(sock))["type"] == "pong"


async def test_max_depth_is_accepted(sock, settings):
    settings.WS_MAX_JSON_DEPTH = 4
    # Depth counts levels of values: the message, `x`, `y`, then `z`'s value.
    await ws.send(sock, {"type": "ping", "x": {"y": {"z": 1}}})
    assert (await ws.recv(sock))["type"] == "pong"
    await ws.send(sock, {"type": "ping", "x": {"y": {"z": {}}}})
    assert (await ws.recv(sock))["type"] == "pong"
    await ws.send(sock, {"type": "ping", "x": {"y": {"z": [1]}}})
    await expect_error(sock, "invalid_message", None)


# --- abuse limits ---------------------------------------------------------------------


def padded_ping(size: int, fill: str = "x") -> str:
    """Return a valid ping of exactly `size` UTF-8 bytes (with `fill` of 1-3 bytes)."""
    head, tail = '{"type":"ping","pad":"', '"}'
    room = size - len(head) - len(tail)
    unit = len(fill.encode())
    assert room % unit == 0
    text = head + fill * (room // unit) + tail
    assert len(text.encode()) == size
    return text


async def test_frame_at_the_size_limit_is_accepted(sock, settings):
    settings.WS_MAX_MESSAGE_BYTES = 300
    await ws.send_raw(sock, padded_ping(300))
    assert (await ws.recv(sock))["type"] == "pong"


@pytest.mark.parametrize("fill", ["x", "你"], ids=["ascii", "multibyte"])
async def test_oversize_frame_gets_an_error_then_1009(sock, settings, fill):
    settings.WS_MAX_MESSAGE_BYTES = 300
    # 303 bytes; with "你" that is only 105 characters.
    await ws.send_raw(sock, padded_ping(303, fill))
    await expect_error(sock, "message_too_long", None)
    assert await ws.next_close(sock) == 1009


async def test_oversize_binary_frame_closes_1009(sock, settings):
    settings.WS_MAX_MESSAGE_BYTES = 300
    await ws.send_raw(sock, data=b"x" * 301)
    await expect_error(sock, "message_too_long", None)
    assert await ws.next_close(sock) == 1009


async def test_too_many_bad_messages_close_4008(sock, settings):
    settings.WS_MAX_BAD_MESSAGES_PER_MINUTE = 3
    bad = ["nope", '{"type": "bogus"}', '{"type": "chat"}']
    for text in bad:
        await ws.send_raw(sock, text)
        assert (await ws.recv(sock))["type"] == "error"
    # At the limit the socket still works; good messages do not count.
    await ws.ping(sock)
    await ws.ping(sock)
    await ws.send_raw(sock, "{")
    await expect_error(sock, "invalid_json", None)
    assert await ws.next_close(sock) == 4008


async def test_refusals_count_as_bad_messages(sock, settings):
    # not_in_room is a client mistake too: a client spamming it is cut off.
    settings.WS_MAX_BAD_MESSAGES_PER_MINUTE = 2
    for _ in range(3):
        await ws.chat(sock, "circle-1", "not joined")
        await expect_error(sock, "not_in_room", "chat")
    assert await ws.next_close(sock) == 4008


async def test_message_flood_is_rate_limited(sock, settings):
    settings.WS_MESSAGES_BURST = 3
    settings.WS_MESSAGES_PER_SECOND = 5.0
    # The bucket holds at most the new burst: three pings pass, the fourth not.
    for _ in range(4):
        await ws.send(sock, {"type": "ping", "requestId": "flood"})
    for _ in range(3):
        assert (await ws.recv(sock))["type"] == "pong"
    frame = assert_frame(await ws.recv(sock))
    assert frame["data"]["code"] == "rate_limited"
    assert frame["data"]["ref"] == "ping" and frame["requestId"] == "flood"
    retry = frame["data"]["retryAfterMs"]
    assert 0 < retry <= 201
    await ws.nothing_more(sock, retry / 1000)
    await ws.ping(sock)


async def test_a_nul_chat_among_others_loses_nothing_of_theirs(
    connect_ready, alice, bob, token_for, settings
):
    """A NUL-byte chat sent between other users' chats: it alone is refused (no
    row), every other chat is stored and delivered in order (on PostgreSQL one
    bad row used to fail the whole batch)."""
    settings.WS_MESSAGES_BURST = 100
    await Room.objects.acreate(room_id="circle-1", room_type=RoomType.CULTURAL_CIRCLE)
    a = await connect_ready(token=token_for(alice))
    b = await connect_ready(token=token_for(bob))
    for sock in (a, b):
        await ws.join(sock, "circle-1", "cultural_circle")
    for i in range(5):
        await ws.send_raw(a, chat_data(message=f"a{i}"))
        await ws.send_raw(b, chat_data(message="bad\u0000" if i == 2 else f"b{i}"))
    got, errors = [], []
    while len(got) < 9 or not errors:
        frame = await ws.recv(b)
        if frame["type"] == "chat":
            got.append(frame["data"]["message"])
        elif frame["type"] == "error":
            errors.append(frame["data"]["code"])
    assert errors == ["invalid_message"]
    assert sorted(got) == sorted([*(f"a{i}" for i in range(5)), "b0", "b1", "b3", "b4"])
    assert await ws.ping(b)
    stored = ChatMessage.objects.filter(room__room_id="circle-1")
    assert await stored.acount() == 9
    assert not await stored.filter(message__contains="bad").aexists()
