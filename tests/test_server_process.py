"""What only the network shows, against real server processes on free ports.

daphne (the contract's reference) and uvicorn with the project's slimmer
`websockets-sansio` protocol (the production server, README) each run as a
subprocess on a temporary SQLite file made with `migrate` + `seed_demo`, with
`REDIS_URL` passed through when set. A real `websockets` client checks the Origin
refusal, `auth_error` then close 4001, ping, a chat between two clients, that no
token ever reaches the server's output, and that a client that stops reading is
closed with 1013. With Redis, two uvicorn processes of one deployment pass chats
over several rooms between them.
"""

import subprocess
import sys
import time
import uuid

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.servers import (  # noqa: F401 - also imported from here by other tests
    AFTER_AUTH,
    APP,
    BIN,
    CIRCLE,
    COMMANDS,
    INVALID_TOKEN,
    OPEN_STREAMS,
    PASSWORD,
    PREPARE,
    ROOT,
    TIMEOUT,
    RawClient,
    Server,
    Template,
    close_code,
    free_port,
    limit_files,
    open_socket,
    prepare_template,
    recv,
    recv_type,
    send,
    server_env,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Template:
    """A migrated SQLite file with the demo users and rooms, and their tokens."""
    return prepare_template(tmp_path_factory)


@pytest.fixture(scope="module", params=sorted(COMMANDS))
def server(request, template, tmp_path_factory):
    """A running server of each kind, shared by the module's tests."""
    running = Server(request.param, tmp_path_factory.mktemp(request.param), template)
    yield running
    running.stop()


@pytest.fixture(params=sorted(COMMANDS))
def own_server(request, template, tmp_path):
    """A server of each kind for one test: the test stops it and reads all output."""
    running = Server(request.param, tmp_path, template)
    yield running
    running.stop()


# --- the handshake ---------------------------------------------------------------


def test_foreign_origin_is_refused_with_http_403(server):
    token = server.token()
    with pytest.raises(InvalidStatus) as refused:
        open_socket(server, f"?token={token}", origin="http://evil.example")
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize(
    "origin", [None, "http://127.0.0.1:{port}", "http://localhost"]
)
def test_no_origin_or_an_allowed_origin_is_accepted(server, origin):
    token = server.token()
    origin = origin.format(port=server.port) if origin else None
    with open_socket(server, f"?token={token}", origin=origin) as client:
        first = recv(client)
        assert first["type"] == "auth_success"


# --- auth -----------------------------------------------------------------------


def test_invalid_token_gets_auth_error_then_close_4001(server):
    token = server.token()
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with open_socket(server, f"?token={forged}") as client:
        assert recv(client) == {"type": "auth_error", "data": {"error": INVALID_TOKEN}}
        assert close_code(client) == 4001


def test_invalid_token_in_the_auth_message_gets_auth_error_then_4001(server):
    with open_socket(server) as client:
        send(client, {"type": "auth", "token": "not-a-jwt", "clientId": "c-1"})
        assert recv(client) == {"type": "auth_error", "data": {"error": INVALID_TOKEN}}
        assert close_code(client) == 4001


def test_valid_token_then_ping_pong(server):
    token = server.token()
    with open_socket(server, f"?token={token}&clientId=dev-1&deviceType=mobile") as c:
        first = recv(c)
        assert first["type"] == "auth_success"
        assert first["data"]["sessionId"] == "dev-1"
        before = int(time.time() * 1000)
        send(c, {"type": "ping", "timestamp": before, "requestId": "p"})
        pong = recv_type(c, "pong")
        assert pong["requestId"] == "p"
        assert before - 5_000 <= pong["timestamp"] <= int(time.time() * 1000) + 5_000


def test_first_message_auth(server):
    token = server.token()
    with open_socket(server) as client:
        send(client, {"type": "auth", "token": token, "clientId": "c-2"})
        first = recv(client)
        assert first["type"] == "auth_success"
        assert first["data"]["sessionId"] == "c-2"


# --- chat -----------------------------------------------------------------------


def test_chat_round_trip_between_two_clients(server):
    alice_token, bob_token = server.obtain_token("alice"), server.token("bob")
    with (
        open_socket(server, f"?token={alice_token}") as alice,
        open_socket(server, f"?token={bob_token}") as bob,
    ):
        for client in (alice, bob):
            assert recv(client)["type"] == "auth_success"
            send(client, {"type": "join_room", "data": {"roomId": CIRCLE}})
            assert recv_type(client, "room_state")["data"]["roomId"] == CIRCLE
            # Its own user_joined: the join is complete everywhere before the next.
            assert recv(client)["type"] == "user_joined"
        assert recv(alice)["data"]["userName"] == "Bob"  # bob's user_joined
        send(bob, {"type": "chat", "data": {"roomId": CIRCLE, "message": "你好"}})
        to_alice, to_bob = recv(alice), recv(bob)
        assert to_alice == to_bob
        assert to_alice["data"]["message"] == "你好"
        assert to_alice["data"]["senderName"] == "Bob"
        # The REST history has it too.
        got = httpx.get(
            f"{server.http}/api/rooms/{CIRCLE}/messages/",
            headers={"Authorization": f"Bearer {alice_token}"},
            timeout=TIMEOUT,
        )
        assert got.json()["messages"][-1] == to_alice["data"]


@pytest.mark.redis
def test_chats_over_several_rooms_reach_another_process_in_order(template, tmp_path):
    """Two processes of one deployment. Chats sent back to back into three rooms
    are stored in shared batches, which reach the other process as one Redis
    message (realtime/layers.py); there every room's chats arrive, in order."""
    env = {"LIVE_STREAM_SLOW_MODE_SECONDS": "0"}
    first = Server("uvicorn", tmp_path / "a", template, **env)
    second = None
    try:
        second = Server("uvicorn", tmp_path / "b", template, share_with=first, **env)
        rooms = ["xp-1", "xp-2", "xp-3"]
        # Live streams are opened by their hosts, not by joining (issue 12).
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", OPEN_STREAMS % (rooms,)],
            cwd=ROOT,
            env=server_env(first.db_path, first.prefix),
            check=True,
            timeout=120,
        )
        with (
            open_socket(first, f"?token={first.token('alice')}") as sender,
            open_socket(second, f"?token={second.token('bob')}") as receiver,
        ):
            for client in (receiver, sender):
                assert recv(client)["type"] == "auth_success"
                for room in rooms:
                    join = {"roomId": room, "roomType": "live_stream"}
                    send(client, {"type": "join_room", "data": join})
                    while recv(client)["type"] != "room_state":
                        pass
            sent = [(room, f"{room}/{n}") for n in range(5) for room in rooms]
            for room, text in sent:
                send(
                    sender, {"type": "chat", "data": {"roomId": room, "message": text}}
                )
            for client in (sender, receiver):
                got: dict[str, list[dict]] = {room: [] for room in rooms}
                while sum(map(len, got.values())) < len(sent):
                    frame = recv(client)
                    if frame["type"] == "chat":
                        got[frame["data"]["roomId"]].append(frame["data"])
                for room in rooms:
                    texts = [chat["message"] for chat in got[room]]
                    assert texts == [text for r, text in sent if r == room]
                    ids = [chat["id"] for chat in got[room]]
                    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    finally:
        for running in (second, first):
            if running is not None:
                running.stop()


# --- logs -------------------------------------------------------------------------


def test_tokens_never_reach_the_server_output(own_server):
    server = own_server
    token = server.obtain_token()
    other = server.token("bob")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with open_socket(server, f"?token={token}&clientId=dev-1") as client:
        assert recv(client)["type"] == "auth_success"
        send(client, {"type": "auth", "token": other})  # another user's: refused
        assert recv_type(client, "error")["data"]["code"] == "invalid_message"
    with open_socket(server, f"?token={forged}") as client:
        assert recv(client)["type"] == "auth_error"
        assert close_code(client) == 4001
    with open_socket(server) as client:
        send(client, {"type": "auth", "token": other})
        assert recv(client)["type"] == "auth_success"
    with pytest.raises(InvalidStatus):
        open_socket(server, f"?token={token}", origin="http://evil.example")
    httpx.get(
        f"{server.http}/api/rooms/",
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
    )
    server.stop()
    output = server.output()
    # The handshakes were logged (so this looks at the right output) ...
    assert "/ws" in output, output
    # ... and no token, nor any part of one that identifies it, is in it.
    for secret in (token, other, forged):
        signature = secret.rsplit(".", 1)[1]
        assert secret not in output
        assert signature[:20] not in output


def test_a_token_in_a_plain_http_query_is_not_logged(server, request):
    if server.kind == "daphne":
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                reason="daphne's CLI writes its access log (full URL, query included) "
                "straight to stdout, past the logging filters",
            )
        )
    token = server.token()
    marker = uuid.uuid4().hex
    # A client (or a proxy that dropped the Upgrade header) asking /ws over HTTP.
    httpx.get(f"{server.http}/ws?token={token}&m={marker}", timeout=TIMEOUT)
    # Wait for the request's access-log line, then look at what it says.
    deadline = time.monotonic() + TIMEOUT
    while marker not in server.output():
        assert time.monotonic() < deadline, "the request was never logged"
        time.sleep(0.05)
    assert token.rsplit(".", 1)[1][:20] not in server.output()


# --- a client that stops reading ------------------------------------------------


@pytest.fixture(params=["uvicorn"])
def small_outbox_server(request, template, tmp_path):
    """A server that closes a socket after 20 unsent frames (WS_OUTBOX_LIMIT),
    and waits long enough for the stalled reader to come back and read its 1013
    (tests/test_server_hygiene.py has a reader that never does)."""
    running = Server(
        request.param,
        tmp_path,
        template,
        WS_OUTBOX_LIMIT="20",
        WS_STALLED_CLOSE_SECONDS="120",
        WS_MAX_CHAT_CHARS="4000",
        WS_MESSAGES_PER_SECOND="1000",
        WS_MESSAGES_BURST="1000",
        CULTURAL_CIRCLE_SLOW_MODE_SECONDS="0",
    )
    yield running
    running.stop()


def test_a_client_that_stops_reading_is_closed_1013_and_the_room_goes_on(
    small_outbox_server,
):
    """uvicorn stops accepting writes for the stalled socket (backpressure), its
    backlog passes WS_OUTBOX_LIMIT, and once it reads again it finds a 1013 close
    after what was already in flight; the sender meanwhile gets every chat."""
    server = small_outbox_server
    stalled = RawClient(server, f"/ws?token={server.token('bob')}")
    assert stalled.next_text()["type"] == "auth_success"
    stalled.send({"type": "join_room", "data": {"roomId": CIRCLE}})
    while stalled.next_text()["type"] != "room_state":
        pass
    with open_socket(server, f"?token={server.token('alice')}") as alice:
        assert recv(alice)["type"] == "auth_success"
        send(alice, {"type": "join_room", "data": {"roomId": CIRCLE}})
        recv_type(alice, "room_state")
        big = "x" * 4000  # 4 KB a frame; 1,000 of them
        for _ in range(1000):
            send(alice, {"type": "chat", "data": {"roomId": CIRCLE, "message": big}})
            # Alice reads her own copies as they come: a reader that keeps up.
            # Bob leaves the room as soon as his socket is closed.
            frame = recv_type(alice, "chat", ("user_joined", "user_left", *AFTER_AUTH))
            assert frame["data"]["message"] == big
    received, close = 0, None
    for opcode, payload in stalled.frames():
        if opcode == 8:
            close = int.from_bytes(payload[:2], "big")
            break
        received += opcode == 1
    stalled.sock.close()
    assert close == 1013
    assert received < 1000
