"""Structured logs (issue 14, item 3): one line per connect, auth failure, join,
leave and close with user, room, close code and duration; JSON lines with
LOG_FORMAT=json; tokens redacted there too."""

import json
import logging
import subprocess
import sys

import orjson
import pytest

from chat.models import Room, RoomType
from tests import ws
from tests.test_server_process import ROOT, Server, open_socket, prepare_template, recv
from yyc3_realtime.logfilters import RedactTokensFilter
from yyc3_realtime.logformat import JsonFormatter

LOGGER = "realtime.activity"


def events(caplog) -> list[dict]:
    return [r.fields for r in caplog.records if r.name == LOGGER]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_one_line_per_connect_auth_failure_join_leave_and_close(
    caplog, connect, connect_ready, alice, token_for
):
    caplog.set_level(logging.INFO, logger=LOGGER)
    await Room.objects.acreate(room_id="log-room", room_type=RoomType.CULTURAL_CIRCLE)
    comm = await connect_ready(token=token_for(alice))
    await ws.join(comm, "log-room", "cultural_circle")
    await ws.send(comm, {"type": "leave_room", "data": {"roomId": "log-room"}})
    await ws.send(comm, {"type": "ping", "requestId": "left"})
    await ws.recv_type(comm, "pong", skip=("user_joined",))  # the leave is done
    await comm.disconnect(code=1000)
    refused = await connect(token="not-a-token", auth=False)
    await ws.expect_close(refused)
    await refused.disconnect()

    got = events(caplog)
    user, conn = str(alice.pk), got[0]["conn"]
    assert [e["event"] for e in got] == [
        "connect",
        "join",
        "leave",
        "close",
        "auth_failure",
        "close",
    ]
    connect_, join, leave, close, failure, refused_close = got
    assert connect_ == {
        "event": "connect",
        "user": user,
        "conn": conn,
        "address": connect_["address"],
        "path": "/ws",
    }
    assert join == {
        "event": "join",
        "user": user,
        "conn": conn,
        "room": "log-room",
        "type": "cultural_circle",
    }
    assert leave == {**join, "event": "leave"}
    assert close["user"] == user and close["code"] == 1000
    assert 0 <= close["duration"] < 60
    assert failure["reason"] == "invalid_token"
    # The server's own close code, whatever the client answered.
    assert refused_close["code"] == 4001 and refused_close["user"] == "-"
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert (
        lines[1] == f"join user={user} conn={conn} room=log-room type=cultural_circle"
    )


def formatted(record: logging.LogRecord) -> dict:
    """Return a record as the console handler writes it with LOG_FORMAT=json."""
    RedactTokensFilter().filter(record)
    return orjson.loads(JsonFormatter().format(record))


TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoxfQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


def test_a_json_line_has_the_fields_as_keys_and_no_token():
    record = logging.LogRecord(
        LOGGER, logging.INFO, __file__, 1, "close user=7 code=4001", (), None
    )
    record.fields = {"event": "close", "user": "7", "code": 4001, "duration": 1.5}
    line = formatted(record)
    assert line["event"] == "close" and line["code"] == 4001
    assert line["duration"] == 1.5 and line["level"] == "INFO"
    assert line["logger"] == LOGGER and line["time"].endswith("+00:00")

    try:
        raise ValueError(f"GET /ws?token={TOKEN}")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "uvicorn.error",
        logging.ERROR,
        __file__,
        1,
        "%s",
        (f"Bearer {TOKEN}",),
        exc_info,
    )
    record.fields = {"room": TOKEN}
    text = JsonFormatter().format(record) + json.dumps(formatted(record))
    assert TOKEN.rsplit(".", 1)[1] not in text
    assert "[redacted]" in formatted(record)["exc"]


@pytest.mark.parametrize(("value", "formatter"), [("", "plain"), ("json", "json")])
def test_log_format_chooses_the_console_formatter(value, formatter):
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            "from yyc3_realtime import settings;"
            "print(settings.LOGGING['handlers']['console']['formatter'])",
        ],
        cwd=ROOT,
        env={"LOG_FORMAT": value, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.strip() == formatter


def test_an_unknown_log_format_is_refused():
    found = subprocess.run(
        [sys.executable, "-c", "import yyc3_realtime.settings"],
        cwd=ROOT,
        env={"LOG_FORMAT": "xml", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert found.returncode and "LOG_FORMAT must be plain or json" in found.stderr


def test_a_server_with_log_format_json_writes_json_lines_without_tokens(
    tmp_path_factory, tmp_path
):
    """The production server (uvicorn) with LOG_FORMAT=json: every line it
    writes is a JSON object, uvicorn's own included; the connection's events
    are there; the token is not."""
    template = prepare_template(tmp_path_factory)
    server = Server("uvicorn", tmp_path, template, LOG_FORMAT="json")
    try:
        token = server.token("alice")
        with open_socket(server, f"?token={token}") as client:
            assert recv(client)["type"] == "auth_success"
        with open_socket(server, f"?token={token[:-4]}AAAA") as client:
            assert recv(client)["type"] == "auth_error"
    finally:
        server.stop()
    lines = [line for line in server.output().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # fails on a line that is not
    kinds = [p.get("event") for p in parsed if p["logger"] == LOGGER]
    # Two sockets one after the other: the first one's close line may come
    # after the second one's lines (it is written when the server sees it go).
    assert kinds[0] == "connect"
    assert sorted(kinds) == ["auth_failure", "close", "close", "connect"]
    assert any(p["logger"].startswith("uvicorn") for p in parsed)
    assert token.rsplit(".", 1)[1][:20] not in server.output()
