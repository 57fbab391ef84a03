"""Real server processes for tests: free ports, a seeded database, the commands
of daphne and of the production uvicorn, and small socket helpers.

Used by tests/test_server_process.py, test_server_hygiene.py, tests/faults,
tests/security, tests/web and tests/deploy.
"""

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "demo12345"  # chat/management/commands/seed_demo.py
CIRCLE = "circle-heluo"  # made by seed_demo
AFTER_AUTH = ("notification", "notification_summary")
INVALID_TOKEN = "Token无效或已过期"
TIMEOUT = 10

COMMANDS = {
    "daphne": [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", "{port}"],
    "uvicorn": [
        str(BIN / "uvicorn"),
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--ws",
        "realtime.wsprotocol:WebSocketProtocol",
        "--http",
        "realtime.httpprotocol:HTTPProtocol",
    ],
}
APP = "yyc3_realtime.asgi:application"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def limit_files(count: int):
    """Return a preexec_fn that sets a child's open-files limit."""

    def apply() -> None:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))

    return apply


def server_env(db_path: Path, prefix: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "YYC3_REQUIRE_BACKENDS"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="yyc3_realtime.settings",
        SQLITE_PATH=str(db_path),
        CHANNEL_LAYER_PREFIX=prefix,
        # Strict: every logger at DEBUG, output unbuffered.
        LOG_LEVEL="DEBUG",
        PYTHONUNBUFFERED="1",
    )
    return env


# One process: migrate, seed the demo data, print an access token per demo user.
PREPARE = """
import io, json
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework_simplejwt.tokens import AccessToken
call_command("migrate", interactive=False, verbosity=0)
call_command("seed_demo", stdout=io.StringIO())
users = get_user_model().objects.filter(username__in=["alice", "bob"])
print(json.dumps({u.username: str(AccessToken.for_user(u)) for u in users}))
"""


# Live stream rooms opened by a host, as the servers' database sees them.
OPEN_STREAMS = """
from chat.models import Room
for room_id in %r:
    Room.objects.get_or_create(room_id=room_id, defaults={"room_type": "live_stream"})
"""


class Server:
    """One server process; its stdout and stderr go to files."""

    def __init__(
        self,
        kind: str,
        workdir: Path,
        template: "Template",
        share_with: "Server | None" = None,
        open_files: int | None = None,
        **env: str,
    ) -> None:
        """`share_with`: another process of the same deployment (its database
        and channel-layer prefix). `open_files`: the process's limit of them."""
        self.kind = kind
        self.tokens = template.tokens
        self.port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        if share_with is None:
            self.prefix = f"srv{uuid.uuid4().hex[:12]}"
            self.db_path = workdir / "db.sqlite3"
            shutil.copy(template.db_path, self.db_path)
        else:
            self.prefix, self.db_path = share_with.prefix, share_with.db_path
        db_path = self.db_path
        self.out_path, self.err_path = workdir / "stdout.log", workdir / "stderr.log"
        command = [part.format(port=self.port) for part in COMMANDS[kind]] + [APP]
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**server_env(db_path, self.prefix), **env},
                stdout=out,
                stderr=err,
                preexec_fn=None if open_files is None else limit_files(open_files),
            )
        self.http = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}"
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.kind} exited:\n{self.output()}")
            try:
                if httpx.get(f"{self.http}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"{self.kind} did not start:\n{self.output()}")

    def stop(self) -> None:
        stop_process(self.process)
        drop_redis_keys(self.prefix)

    def wait_listening(self, timeout: float = 20) -> None:
        wait_listening(self.http, self.process, self.output, timeout)

    def output(self) -> str:
        return "".join(
            path.read_text(errors="replace")
            for path in (self.out_path, self.err_path)
            if path.exists()
        )

    def token(self, username: str = "alice") -> str:
        """Return an access token of a demo user (made when the data was seeded)."""
        return self.tokens[username]

    def obtain_token(self, username: str = "alice") -> str:
        """Return an access token from the server's own token endpoint."""
        got = httpx.post(
            f"{self.http}/api/auth/token/",
            json={"username": username, "password": PASSWORD},
            timeout=TIMEOUT,
        )
        assert got.status_code == 200, got.text
        return got.json()["access"]


@dataclass(frozen=True)
class Template:
    db_path: Path
    tokens: dict[str, str]


def seed_database(path: Path, **env: str) -> Template:
    """Migrate a database and seed the demo data; return it with the demo users'
    tokens. SQLite at `path`, unless `env` names a DATABASE_URL."""
    full_env = {**server_env(path, "unused"), "LOG_LEVEL": "WARNING", **env}
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PREPARE],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    if not path.exists():
        path.touch()  # on PostgreSQL: an unused file for Server to copy
    return Template(path, json.loads(done.stdout.strip().splitlines()[-1]))


def prepare_template(tmp_path_factory) -> Template:
    """A migrated SQLite file with the demo data (a module's `template` fixture)."""
    return seed_database(tmp_path_factory.mktemp("server-db") / "db.sqlite3")


def stop_process(process: subprocess.Popen) -> None:
    """Stop a server process as Ctrl-C would; kill it if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def drop_redis_keys(prefix: str) -> None:
    """Delete a test deployment's keys from the shared Redis, if one is used."""
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        import redis

        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def wait_listening(url: str, process: subprocess.Popen, output, timeout=60) -> None:
    """Wait until `url`/healthz answers 200; fail with the output if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited:\n{output()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server did not start:\n{output()[-3000:]}")


def recv(client: ClientConnection) -> dict:
    return json.loads(client.recv(timeout=TIMEOUT))


def recv_type(client: ClientConnection, kind: str, skip=AFTER_AUTH) -> dict:
    while True:
        frame = recv(client)
        if frame["type"] == kind:
            return frame
        assert frame["type"] in skip, f"expected {kind}, got {frame}"


def close_code(client: ClientConnection) -> int:
    """Return the close code; fails if a frame arrives first."""
    with pytest.raises(ConnectionClosed) as closed:
        frame = client.recv(timeout=TIMEOUT)
        raise AssertionError(f"expected a close, got {frame}")
    assert closed.value.rcvd is not None, "closed without a close frame"
    return closed.value.rcvd.code


def send(client: ClientConnection, frame: dict) -> None:
    client.send(json.dumps(frame))


def open_socket(server: Server, query: str = "", **kwargs) -> ClientConnection:
    return connect(f"{server.ws}/ws{query}", open_timeout=TIMEOUT, **kwargs)


class RawClient:
    """A WebSocket client on a bare TCP socket with a 4 KiB receive buffer, so
    that the test decides when it reads (client libraries read ahead)."""

    def __init__(self, server: Server, path: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(("127.0.0.1", server.port))
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def send(self, frame: dict) -> None:
        payload = json.dumps(frame).encode()
        assert len(payload) < 126
        mask = b"\x01\x02\x03\x04"
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)

    def frames(self):
        """Yield (opcode, payload) until the server closes the TCP connection."""
        while True:
            while len(self.buffer) >= 2:
                size, start = self.buffer[1] & 0x7F, 2
                if size == 126:
                    size, start = int.from_bytes(self.buffer[2:4], "big"), 4
                elif size == 127:
                    size, start = int.from_bytes(self.buffer[2:10], "big"), 10
                if len(self.buffer) < start + size:
                    break
                opcode, payload = (
                    self.buffer[0] & 0x0F,
                    self.buffer[start : start + size],
                )
                self.buffer = self.buffer[start + size :]
                yield opcode, payload
            chunk = self.sock.recv(65536)
            if not chunk:
                return
            self.buffer += chunk

    def next_text(self) -> dict:
        for opcode, payload in self.frames():
            if opcode == 1:
                return json.loads(payload)
        raise AssertionError("closed")
