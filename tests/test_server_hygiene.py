"""The production server under hostile or broken clients, as real processes.

uvicorn with the project's protocols (README, "Production"): a handshake sent one
byte at a time is cut off after WS_HANDSHAKE_TIMEOUT; a client that stops reading
is closed with 1013 and, if even that cannot reach it, its connection is dropped;
running out of file descriptors is one log line, not a traceback per accept.
"""

import socket
import time

import pytest

from tests.servers import (
    CIRCLE,
    RawClient,
    Server,
    Template,
    open_socket,
    prepare_template,
    recv,
    recv_type,
    send,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Template:
    return prepare_template(tmp_path_factory)


@pytest.fixture
def hygiene_server(template, tmp_path):
    running = Server(
        "uvicorn",
        tmp_path,
        template,
        WS_HANDSHAKE_TIMEOUT="1",
        WS_OUTBOX_LIMIT="20",
        WS_STALLED_CLOSE_SECONDS="1",
        WS_MESSAGES_PER_SECOND="1000",
        WS_MESSAGES_BURST="1000",
    )
    yield running
    running.stop()


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Return how long the server took to close `sock`, or None."""
    start = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - start < seconds:
        try:
            if sock.recv(1024) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except ConnectionResetError:
            return time.monotonic() - start
    return None


def test_a_handshake_sent_a_byte_at_a_time_is_cut_off(hygiene_server):
    request = (
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{hygiene_server.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", hygiene_server.port))
    start = time.monotonic()
    with sock:
        sock.settimeout(0.3)
        closed = False
        for byte in request:
            try:
                sock.send(bytes([byte]))
                if sock.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                closed = True
                break
        took = time.monotonic() - start
    assert closed, "the slow handshake was never cut off"
    assert took < 5


def test_an_idle_connection_that_sends_nothing_is_cut_off(hygiene_server):
    sock = socket.create_connection(("127.0.0.1", hygiene_server.port))
    with sock:
        took = closed_within(sock, 5)
    assert took is not None and took < 4


def test_a_client_whose_buffer_is_full_is_dropped_and_the_room_told(hygiene_server):
    """A client that never reads: its backlog overflows, the 1013 cannot get past
    its full buffers, so its connection is dropped within
    WS_STALLED_CLOSE_SECONDS; the room sees it leave, and goes on."""
    server = hygiene_server
    stalled = RawClient(server, f"/ws?token={server.token('bob')}")
    stalled.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    assert stalled.next_text()["type"] == "auth_success"
    stalled.send({"type": "join_room", "data": {"roomId": CIRCLE}})
    while stalled.next_text()["type"] != "room_state":
        pass
    with open_socket(server, f"?token={server.token('alice')}") as alice:
        assert recv(alice)["type"] == "auth_success"
        send(alice, {"type": "join_room", "data": {"roomId": CIRCLE}})
        recv_type(alice, "room_state")
        big = "x" * 1500
        deadline = time.monotonic() + 20
        left = False
        while time.monotonic() < deadline and not left:
            send(alice, {"type": "chat", "data": {"roomId": CIRCLE, "message": big}})
            while True:
                frame = recv(alice)
                assert frame["type"] != "error", frame
                if frame["type"] == "user_left":
                    left = True
                if frame["type"] == "chat":
                    break
        assert left, "the stalled client was never dropped"
        send(alice, {"type": "chat", "data": {"roomId": CIRCLE, "message": "after"}})
        assert recv_type(alice, "chat", ("user_left",))["data"]["message"] == "after"
    stalled.sock.close()


def test_out_of_file_descriptors_is_one_log_line(template, tmp_path):
    """With a low open-files limit and more connections than it allows, the
    server logs the shortage once, not a traceback per accept attempt, and
    serves again once connections close."""
    server = Server(
        "uvicorn", tmp_path, template, open_files=128, WS_HANDSHAKE_TIMEOUT="30"
    )
    try:
        held = []
        for _ in range(160):
            try:
                held.append(socket.create_connection(("127.0.0.1", server.port)))
            except OSError:
                break
        time.sleep(3)
        output = server.output()
        for sock in held:
            sock.close()
        time.sleep(1.5)
        with open_socket(server, f"?token={server.token()}") as client:
            assert recv(client)["type"] == "auth_success"
    finally:
        server.stop()
    assert output.count("out of resources accepting connections") == 1, output[-3000:]
    assert output.count("Traceback") == 0, output[-3000:]
