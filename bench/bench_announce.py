"""Benchmark: one system announcement to N connected users.

Measures, per announcement, the time from the admin-side call
(`notifications.services.announcement_create`: one row, one push on the `all`
topic, after commit) until the LAST of N connected users has the `notification`
frame, and the server's CPU time over that window.

Usage (from the project root; needs Redis, the production channel layer):

    .venv/bin/python bench/bench_announce.py                 # 5,000 users, 5 rounds
    .venv/bin/python bench/bench_announce.py --users 1000 --rounds 3
    .venv/bin/python bench/bench_announce.py --json out.json  # also write the figures

Options: --redis URL (default redis://127.0.0.1:6379/0), --server-core 0,
--client-core 1, --batch 200 (connections opened at once), --keep (keep the
temporary directory with the database, tokens and server log).

What it does:
1. Makes a throwaway SQLite database in a temporary directory, migrates it, and
   makes N users and tokens with `manage.py bench_tokens --count N --out FILE`.
2. Starts the real server, `uvicorn yyc3_realtime.asgi:application`, on a free
   port, pinned to one core with `taskset -c 0`, DEBUG off, a random
   channel-layer prefix (its Redis keys are deleted at the end).
3. Pins itself to the other core and opens N sockets with websockets' sans-I/O
   client protocol on asyncio (one user each, `/ws?token=...`), each waiting
   for `auth_success` and the `notification_summary` that follows it. Then it
   measures the server's idle CPU over 2 s (background work: group refresh).
4. Each round calls the announcement service from this process (in a thread,
   as the admin view would) and waits until every socket has the frame. The
   push crosses processes through Redis exactly as from an admin server.

Figures: `last` = time until the last socket had it (includes this load
generator's own receive work: its CPU is printed too); p50/p99 over sockets;
server CPU (all threads, from /proc/<pid>/task/*/schedstat) in the window and
per delivery. Loopback only; the machine is shared, so compare ratios in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
MARK = "bench-announce-"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=5000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    p.add_argument("--server-core", default="0")
    p.add_argument("--client-core", type=int, default=1)
    p.add_argument("--batch", type=int, default=200)
    p.add_argument("--timeout", type=float, default=60.0, help="per round, seconds")
    p.add_argument("--json", help="write the figures to this file")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return p.parse_args()


# --- the server process -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(workdir: Path, redis_url: str, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="yyc3_realtime.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench-only-" + secrets.token_hex(24),
        SQLITE_PATH=str(workdir / "bench.sqlite3"),
        REDIS_URL=redis_url,
        CHANNEL_LAYER_PREFIX=prefix,
        LOG_LEVEL="WARNING",
        # One user per socket, but the loadgen's bursts must not trip the limits.
        WS_MAX_CONNECTIONS_PER_USER="100",
        WS_MAX_CONNECTIONS_PER_IP="0",
        WS_AUTH_TIMEOUT="120",
    )
    return env


def manage(env: dict, *args: str) -> None:
    subprocess.run([PY, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, check=True)


def start_server(env: dict, port: int, core: str, log: Path) -> subprocess.Popen:
    cmd = [
        "taskset", "-c", core,
        PY, "-m", "uvicorn", "yyc3_realtime.asgi:application",
        "--host", "127.0.0.1", "--port", str(port),
        "--ws", "websockets-sansio", "--loop", "asyncio",
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=out)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: see {log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("server did not listen within 30 s")


def server_cpu_ns(pid: int) -> int:
    """CPU time of every thread of `pid`, in ns (schedstat: no 10 ms tick rounding)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            # A thread may end between listing and reading.
            total += int((task / "schedstat").read_text().split()[0])
    return total


def drop_redis_keys(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


# --- the load generator -----------------------------------------------------------


class Client(asyncio.Protocol):
    """One socket on websockets' sans-I/O `ClientProtocol`: frames are parsed in
    `data_received`, with no task wake-up per frame, so the load generator costs
    a few µs per frame and its own queueing stays small next to the server's."""

    def __init__(self, uri, rx: Receivers) -> None:
        self.ws = ClientProtocol(uri, max_size=2**20)
        self.rx = rx
        self.transport: asyncio.Transport | None = None
        self.setup: list[dict] = []
        self.ready = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.ws.send_request(self.ws.connect())
        transport.write(b"".join(self.ws.data_to_send()))

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self.on_text(event.data, now)
        out = self.ws.data_to_send()  # pongs, close replies
        if out:
            self.transport.write(b"".join(out))

    def on_text(self, payload: bytes, now: float) -> None:
        if len(self.setup) < 2:  # auth_success, then the inbox summary
            self.setup.append(json.loads(payload))
            if len(self.setup) == 2 and not self.ready.done():
                self.ready.set_result(self.setup)
        elif self.rx.marker and self.rx.marker in payload:
            self.rx.arrived(now)

    def connection_lost(self, exc) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed during setup: {exc}"))


class Receivers:
    """N sockets; records when each one gets the current round's announcement."""

    def __init__(self) -> None:
        self.clients: list[Client] = []
        self.marker = b""
        self.times: list[float] = []
        self.expected = 0
        self.all_in = asyncio.Event()

    async def open(self, host: str, port: int, tokens: list[str], batch: int) -> None:
        loop = asyncio.get_running_loop()
        sem = asyncio.Semaphore(batch)

        async def one(token: str) -> Client:
            async with sem:
                uri = parse_uri(f"ws://{host}:{port}/ws?token={token}")
                _, client = await loop.create_connection(
                    lambda: Client(uri, self), host, port
                )
                first, second = await asyncio.wait_for(client.ready, 60)
                assert first["type"] == "auth_success", first
                assert second["type"] == "notification_summary", second
                return client

        self.clients = await asyncio.gather(*(one(t) for t in tokens))

    def arm(self, marker: str) -> None:
        self.marker, self.times = marker.encode(), []
        self.expected = len(self.clients)
        self.all_in = asyncio.Event()

    def arrived(self, now: float) -> None:
        self.times.append(now)
        if len(self.times) == self.expected:
            self.all_in.set()

    def close(self) -> None:
        for client in self.clients:
            client.transport.close()


def announce(title: str) -> None:
    from notifications import services

    services.announcement_create(title=title, content="系统公告：基准测试")


async def one_round(rx: Receivers, n: int, server_pid: int, timeout: float) -> dict:
    title = f"{MARK}{n}-{secrets.token_hex(4)}"
    rx.arm(title)
    cpu0, self0 = server_cpu_ns(server_pid), time.process_time()
    t0 = time.perf_counter()
    await asyncio.to_thread(announce, title)
    t_commit = time.perf_counter()
    await asyncio.wait_for(rx.all_in.wait(), timeout)
    cpu1, self1 = server_cpu_ns(server_pid), time.process_time()
    lat = sorted((t - t0) * 1000 for t in rx.times)
    return {
        "deliveries": len(lat),
        "commit_ms": round((t_commit - t0) * 1000, 1),
        "first_ms": round(lat[0], 1),
        "p50_ms": round(lat[len(lat) // 2], 1),
        "p99_ms": round(lat[int(len(lat) * 0.99) - 1], 1),
        "last_ms": round(lat[-1], 1),
        "server_cpu_ms": round((cpu1 - cpu0) / 1e6, 1),
        "server_cpu_us_per_delivery": round((cpu1 - cpu0) / 1e3 / len(lat), 2),
        "loadgen_cpu_ms": round((self1 - self0) * 1000, 1),
    }


async def run(args: argparse.Namespace, port: int, server_pid: int, tokens) -> dict:
    rx = Receivers()
    t = time.perf_counter()
    await rx.open("127.0.0.1", port, tokens, args.batch)
    ramp = time.perf_counter() - t
    print(f"{len(rx.clients)} sockets authenticated in {ramp:.1f} s", flush=True)
    # Unmeasured: the first call pays for imports and the database connection.
    await one_round(rx, -1, server_pid, args.timeout)
    await asyncio.sleep(1.0)  # let the server go idle before measuring
    cpu0 = server_cpu_ns(server_pid)
    await asyncio.sleep(2.0)
    idle = (server_cpu_ns(server_pid) - cpu0) / 2e6
    print(f"server idle CPU: {idle:.1f} ms/s", flush=True)
    rounds = []
    try:
        for n in range(args.rounds):
            figures = await one_round(rx, n, server_pid, args.timeout)
            rounds.append(figures)
            print(
                f"round {n}: last {figures['last_ms']} ms  p50 {figures['p50_ms']}"
                f"  p99 {figures['p99_ms']}  commit {figures['commit_ms']} ms  "
                f"server CPU {figures['server_cpu_ms']} ms "
                f"({figures['server_cpu_us_per_delivery']} µs/delivery)  "
                f"loadgen CPU {figures['loadgen_cpu_ms']} ms",
                flush=True,
            )
            await asyncio.sleep(0.5)
    finally:
        rx.close()
    return {
        "users": len(tokens),
        "loadavg_1min": round(os.getloadavg()[0], 2),
        "ramp_s": round(ramp, 1),
        "server_idle_cpu_ms_per_s": round(idle, 1),
        "rounds": rounds,
    }


def summarise(result: dict) -> dict:
    rounds = result["rounds"]
    median = {
        key: round(statistics.median(r[key] for r in rounds), 2)
        for key in rounds[0]
        if key != "deliveries"
    }
    return {**result, "median": median}


def main() -> None:
    args = parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.users + 100:
        raise SystemExit(f"open-file limit {hard} is below {args.users} sockets")
    workdir = Path(tempfile.mkdtemp(prefix="bench-announce-"))
    prefix = "bench-ann-" + secrets.token_hex(4)
    env = server_env(workdir, args.redis, prefix)
    server = None
    try:
        manage(env, "migrate", "-v0")
        tokens_file = workdir / "tokens.txt"
        manage(
            env, "bench_tokens", "--count", str(args.users), "--out", str(tokens_file)
        )
        tokens = tokens_file.read_text().split()[: args.users]
        port = free_port()
        server = start_server(env, port, args.server_core, workdir / "server.log")
        os.sched_setaffinity(0, {args.client_core})
        os.environ.update(env)  # this process writes the announcement: same DB, layer
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        result = summarise(asyncio.run(run(args, port, server.pid, tokens)))
        m = result["median"]
        print(
            f"\n{result['users']} users, median of {len(result['rounds'])} rounds: "
            f"last socket had it after {m['last_ms']} ms (p50 {m['p50_ms']}, "
            f"p99 {m['p99_ms']}); server CPU {m['server_cpu_ms']} ms = "
            f"{m['server_cpu_us_per_delivery']} µs per delivery; "
            f"loadgen CPU {m['loadgen_cpu_ms']} ms; machine load average "
            f"{result['loadavg_1min']} (2 cores: above ~2, other work competes)"
        )
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2))
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        drop_redis_keys(args.redis, prefix)
        if args.keep:
            print(f"kept {workdir}")
        else:
            for path in sorted(workdir.rglob("*"), reverse=True):
                path.unlink()
            workdir.rmdir()


if __name__ == "__main__":
    main()
