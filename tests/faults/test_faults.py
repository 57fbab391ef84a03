"""Nothing lost, ever: faults injected under live traffic, checked end to end.

Each test runs two server processes on a private Redis (tests/faults/harness.py),
eight members in two rooms sending chats, injects one fault, and then checks that
every chat the database stored reached every member that stayed or resumed,
exactly once and in order. The report rows printed at the end (`-s`) are the
closing note's table: sent, acked, stored, missed, duplicated, longest stall.
"""

import shutil
import signal
import time

import pytest
import redis

from tests.faults.harness import Deployment, Report, exercise

pytestmark = [
    pytest.mark.asyncio,
    # Run with the PostgreSQL + Redis suite (a private redis-server either way).
    pytest.mark.redis,
    pytest.mark.skipif(
        shutil.which("redis-server") is None, reason="needs the redis-server binary"
    ),
]

ROWS: list[str] = []


@pytest.fixture
def deployment(tmp_path):
    running = Deployment(tmp_path)
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module", autouse=True)
def table():
    yield
    if ROWS:
        print(
            "\n| fault | sent | acked | stored | missed | duplicated | longest stall "
            "| reconnects | close codes |\n|---|---|---|---|---|---|---|---|---|"
        )
        print("\n".join(ROWS))


def assert_nothing_lost(report: Report, members, fault: str) -> None:
    ROWS.append(report.row(fault))
    assert report.stored > 0
    assert report.missed == 0, report
    repeated = [(m.name, m.baseline, m.repeated) for m in members if m.repeated]
    assert report.duplicated == 0, (report, repeated)
    assert report.out_of_order == 0, report
    unexpected = [e for m in members for e in m.errors if e != "invalid_message"]
    assert not unexpected, unexpected


def restart_redis(deployment: Deployment) -> None:
    deployment.redis.process.send_signal(signal.SIGKILL)
    deployment.redis.process.wait()
    deployment.redis.process = None
    time.sleep(2)
    deployment.redis.start()


def flush_redis(deployment: Deployment) -> None:
    redis.Redis.from_url(deployment.redis.url).flushall()


def stall_redis(deployment: Deployment) -> None:
    client = redis.Redis.from_url(deployment.redis.url, socket_timeout=10)
    client.execute_command("DEBUG", "SLEEP", "3")


def kill_a_process(deployment: Deployment) -> None:
    deployment.servers[0].process.send_signal(signal.SIGKILL)
    deployment.servers[0].process.wait()


def terminate_a_process(deployment: Deployment) -> None:
    deployment.servers[0].process.send_signal(signal.SIGTERM)
    deployment.servers[0].process.wait(timeout=30)


@pytest.mark.parametrize(
    "name, fault",
    [
        ("Redis killed and restarted 2 s later", restart_redis),
        ("Redis FLUSHALL", flush_redis),
        ("Redis stalls 3 s (DEBUG SLEEP)", stall_redis),
        ("kill -9 of one of two processes", kill_a_process),
    ],
)
async def test_a_fault_loses_and_repeats_nothing(deployment, name, fault):
    report, members = await exercise(deployment, fault)
    assert_nothing_lost(report, members, name)


async def test_sigterm_closes_1012_and_clients_resume_on_the_other(deployment):
    report, members = await exercise(deployment, terminate_a_process)
    assert_nothing_lost(report, members, "SIGTERM of one of two processes")
    moved = [m for m in members if m.reconnects]
    assert moved and all(1012 in m.close_codes for m in moved)


async def test_nul_byte_chats_among_others_lose_nothing(deployment):
    """One member keeps sending chats with U+0000 among everyone's chats: each is
    refused with invalid_message, nothing of anyone else's is lost."""
    sock_url = (
        f"{deployment.servers[1].ws}/ws?token={deployment.template.tokens['bob']}"
    )

    def send_bad(deployment: Deployment) -> None:
        from websockets.sync.client import connect

        with connect(sock_url) as sock:
            sock.send('{"type":"join_room","data":{"roomId":"circle-heluo"}}')
            for i in range(20):
                sock.send(
                    '{"type":"chat","data":{"roomId":"circle-heluo",'
                    f'"message":"bad\\u0000{i}"}}}}'
                )
                time.sleep(0.05)
            codes = []
            while len(codes) < 20:
                frame = sock.recv(timeout=5)
                if '"type":"error"' in frame:
                    codes.append(frame)
            assert all("invalid_message" in c for c in codes)

    report, members = await exercise(deployment, send_bad)
    assert_nothing_lost(report, members, "chats with U+0000 among others")
