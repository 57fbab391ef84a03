"""Metrics with several server processes (issue 14, item 1): each process's
/metrics holds its own sockets (one registry per process: Prometheus scrapes
each port), a chat published on one process is timed where another delivers
it, and the live monitor's JSON sums every process's report through Redis."""

import time

import httpx
import pytest

from django.test import Client

from tests.ops.scrape import parse, value
from tests.test_server_process import (
    CIRCLE,
    Server,
    open_socket,
    prepare_template,
    recv,
    recv_type,
    send,
)

pytestmark = pytest.mark.redis


def scrape(server: Server) -> dict:
    got = httpx.get(f"{server.http}/metrics", timeout=10)
    assert got.status_code == 200
    return parse(got.text)


def wait_for(condition, read, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        got = read()
        if condition(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


@pytest.mark.django_db
def test_each_process_exports_its_own_and_the_monitor_sums_them(
    settings, admin_user, tmp_path_factory, tmp_path
):
    template = prepare_template(tmp_path_factory)
    env = {"METRICS_REPORT_SECONDS": "0.2", "CULTURAL_CIRCLE_SLOW_MODE_SECONDS": "0"}
    first = Server("uvicorn", tmp_path / "a", template, **env)
    second = None
    try:
        second = Server("uvicorn", tmp_path / "b", template, share_with=first, **env)
        with (
            open_socket(first, f"?token={first.token('alice')}") as alice,
            open_socket(second, f"?token={second.token('bob')}") as bob,
        ):
            for client in (bob, alice):
                assert recv(client)["type"] == "auth_success"
                send(client, {"type": "join_room", "data": {"roomId": CIRCLE}})
                recv_type(client, "room_state")
            send(alice, {"type": "chat", "data": {"roomId": CIRCLE, "message": "跨"}})
            got = recv_type(bob, "chat", ("user_joined", "notification_summary"))
            assert got["data"]["message"] == "跨"

            a, b = scrape(first), scrape(second)
            assert value(a, "yyc3_connections") == 1
            assert value(b, "yyc3_connections") == 1
            assert value(a, "yyc3_frames_in_total", type="chat") == 1
            assert value(b, "yyc3_frames_in_total", type="chat") == 0
            # Stored and published on the first, delivered on the second.
            assert value(a, "yyc3_batch_size_count", batcher="ChatWriter") == 1
            assert value(b, "yyc3_fanout_latency_seconds_count") >= 1
            assert value(b, "yyc3_frames_out_total", type="chat") == 1

            # The monitor, served by any process (here this test's), reads
            # both processes' reports from the deployment's Redis.
            settings.CHANNEL_LAYER_PREFIX = first.prefix
            staff = Client()
            staff.force_login(admin_user)

            def both(body: dict) -> bool:
                # A report made before both users were online may still be
                # the newest for a moment: wait for one made after.
                pids = {p["pid"] for p in body["processes"]}
                now_both = pids == {first.process.pid, second.process.pid}
                return now_both and body["users_online"] == 2

            body = wait_for(both, lambda: staff.get("/admin/monitor/data/").json())
            assert both(body), body["processes"]
            sockets = sum(
                v
                for p in body["processes"]
                for name, _, v in p["samples"]
                if name == "yyc3_connections"
            )
            assert sockets == 2
            assert body["users_online"] == 2
    finally:
        for running in (second, first):
            if running is not None:
                running.stop()
