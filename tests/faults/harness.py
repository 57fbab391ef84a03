"""A deployment under faults, and members that check what they got.

Two uvicorn processes of one deployment (the production command) share a
private `redis-server` and a database: SQLite by default, a fresh PostgreSQL
database when DATABASE_URL is set. Members sit in two rooms, spread over both
processes; each sends chats at a steady rate, reconnects to the other process
when its socket closes, and resumes with `join_room` + `lastMessageId`. At the
end every member's received chat ids are compared with what the database stored.
"""

import asyncio
import contextlib
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.realtime.test_redis_restart import PrivateRedis
from tests.servers import Server, Template, seed_database

ROOMS = ("circle-heluo", "live-heluo")  # made by seed_demo
SERVER_ENV = {
    "WS_GAP_CHECK_SECONDS": "1",
    "WS_ORDER_HOLD_SECONDS": "0.3",
    "WS_GROUP_REFRESH_SECONDS": "1",
    "WS_HISTORY_MAX_LIMIT": "1000",
    "WS_MESSAGES_PER_SECOND": "100",
    "WS_MESSAGES_BURST": "100",
    "WS_MAX_CONNECTIONS_PER_USER": "50",
    "ROOM_SLOW_MODE_SECONDS": "",
    "LIVE_STREAM_SLOW_MODE_SECONDS": "0",
    "CULTURAL_CIRCLE_SLOW_MODE_SECONDS": "0",
    "LOG_LEVEL": "WARNING",
}


class Deployment:
    """A private Redis, a database, two server processes."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.redis = PrivateRedis()
        self.database_url = self._database()
        self.template = self._prepare()
        self.servers: list[Server] = []

    def _database(self) -> str | None:
        """A fresh PostgreSQL database when DATABASE_URL is set, else None."""
        base = os.environ.get("DATABASE_URL")
        if not base:
            return None
        name = f"yyc3_fault_{uuid.uuid4().hex[:10]}"
        parts = urlsplit(base)
        # DATABASE_URL's own database need not exist (pytest-django makes
        # test_<name>): create ours from the maintenance database.
        self._admin_url = urlunsplit(parts._replace(path="/postgres"))
        self._name = name
        with psycopg.connect(self._admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return urlunsplit(parts._replace(path=f"/{name}"))

    def _prepare(self) -> Template:
        env = {"DATABASE_URL": self.database_url} if self.database_url else {}
        return seed_database(self.workdir / "db.sqlite3", **env)

    def start(self) -> None:
        self.redis.start()
        env = {**SERVER_ENV, "REDIS_URL": self.redis.url}
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        first = Server("uvicorn", self.workdir / "a", self.template, **env)
        self.servers = [first]
        second = Server(
            "uvicorn", self.workdir / "b", self.template, share_with=first, **env
        )
        self.servers.append(second)
        for server in self.servers:
            server.wait_listening()

    def stop(self) -> None:
        for server in self.servers:
            with contextlib.suppress(Exception):
                server.stop()
        self.redis.stop()
        if self.database_url:
            with psycopg.connect(self._admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')

    def stored_ids(self, room_id: str) -> list[str]:
        """Every chat id the database holds for a room, oldest first (REST)."""
        token = self.template.tokens["alice"]
        ids: list[str] = []
        after = "000000000000"  # from the first
        for server in self.servers:
            if server.process.poll() is None:
                break
        while True:
            params = {"limit": 100, "after": after}
            got = httpx.get(
                f"{server.http}/api/rooms/{room_id}/messages/",
                params=params,
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert got.status_code == 200, got.text
            page = got.json()
            ids += [m["id"] for m in page["messages"]]
            if not page["hasMore"]:
                return ids
            after = ids[-1]


@dataclass
class Member:
    """One client in one room; it resumes after every close."""

    name: str
    token: str
    room: str
    first_server: int
    sent: int = 0
    acked: set[str] = field(default_factory=set)
    received: list[str] = field(default_factory=list)
    duplicates: int = 0
    out_of_order: int = 0
    repeated: list[tuple[str, str]] = field(default_factory=list)  # (id, how)
    baseline: str | None = None  # the newest id at its first join
    reconnects: int = 0
    close_codes: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    longest_stall: float = 0.0
    _last_arrival: float | None = None

    @property
    def last_id(self) -> str | None:
        return self.received[-1] if self.received else self.baseline

    def take(self, data: dict, how: str = "live") -> None:
        """A chat arrived (live, or in the resume's history)."""
        message_id = data["id"]
        last = self.last_id
        if last is not None and message_id <= last:
            if message_id in self.received or message_id == self.baseline:
                self.duplicates += 1
                self.repeated.append((message_id, how))
            else:
                self.out_of_order += 1
            return
        self.received.append(message_id)
        if data.get("clientMsgId", "").startswith(f"{self.name}-"):
            self.acked.add(data["clientMsgId"])

    async def run(self, servers: list[Server], stop: asyncio.Event, rate: float):
        index = self.first_server
        while not stop.is_set():
            server = servers[index % len(servers)]
            index += 1
            try:
                await self._session(server, stop, rate)
            except (OSError, ConnectionClosed, InvalidStatus, TimeoutError) as exc:
                code = getattr(getattr(exc, "rcvd", None), "code", None)
                if code is not None:
                    self.close_codes.append(code)
                self.reconnects += 1
                await asyncio.sleep(0.2)

    async def _session(self, server: Server, stop: asyncio.Event, rate: float):
        url = f"{server.ws}/ws?token={self.token}"
        async with connect(url, open_timeout=5, close_timeout=1) as sock:
            join: dict = {"roomId": self.room}
            resuming = self.last_id is not None
            if resuming:
                join["lastMessageId"] = self.last_id
            await sock.send(json.dumps({"type": "join_room", "data": join}))
            sender = asyncio.ensure_future(self._send(sock, stop, rate))
            try:
                await self._receive(sock, stop, resuming)
            finally:
                sender.cancel()
                with contextlib.suppress(BaseException):
                    await sender

    async def _send(self, sock, stop: asyncio.Event, rate: float) -> None:
        while not stop.is_set():
            self.sent += 1
            n = self.sent
            text = f"{self.name} {n}"
            await sock.send(
                json.dumps(
                    {
                        "type": "chat",
                        "data": {
                            "roomId": self.room,
                            "message": text,
                            "clientMsgId": f"{self.name}-{n}",
                        },
                    }
                )
            )
            await asyncio.sleep(1 / rate)

    async def _receive(self, sock, stop: asyncio.Event, resuming: bool) -> None:
        while True:
            try:
                raw = await asyncio.wait_for(sock.recv(), 0.5)
            except TimeoutError:
                if stop.is_set():
                    return
                continue
            frame = json.loads(raw)
            kind = frame["type"]
            now = time.monotonic()
            if kind == "room_state" and self.baseline is None and not resuming:
                recent = frame["data"]["recent"]
                self.baseline = recent[-1]["id"] if recent else "0"
            elif kind == "history":
                for data in frame["data"]["messages"]:
                    self.take(data, "history")
            elif kind == "chat":
                if self._last_arrival is not None and not stop.is_set():
                    self.longest_stall = max(
                        self.longest_stall, now - self._last_arrival
                    )
                self._last_arrival = now
                self.take(frame["data"])
            elif kind == "error":
                self.errors.append(frame["data"]["code"])


@dataclass
class Report:
    sent: int
    acked: int
    stored: int
    missed: int
    duplicated: int
    out_of_order: int
    longest_stall: float
    reconnects: int
    close_codes: list[int]

    def row(self, fault: str) -> str:
        return (
            f"| {fault} | {self.sent} | {self.acked} | {self.stored} | {self.missed} "
            f"| {self.duplicated} | {self.longest_stall:.2f} s | {self.reconnects} "
            f"| {sorted(set(self.close_codes))} |"
        )


async def exercise(
    deployment: Deployment,
    fault,
    members_per_room: int = 4,
    rate: float = 5.0,
    before: float = 3.0,
    after: float = 6.0,
) -> tuple[Report, list[Member]]:
    """Run the members, apply `fault(deployment)` (sync, in a thread) after
    `before` seconds, go on for `after` seconds, settle, and compare."""
    tokens = deployment.template.tokens
    members = [
        Member(
            name=f"{room}-{i}",
            token=tokens["alice" if i % 2 else "bob"],
            room=room,
            first_server=i,
        )
        for room in ROOMS
        for i in range(members_per_room)
    ]
    stop = asyncio.Event()
    tasks = [
        asyncio.ensure_future(m.run(deployment.servers, stop, rate)) for m in members
    ]
    await asyncio.sleep(before)
    await asyncio.to_thread(fault, deployment)
    await asyncio.sleep(after)
    stop.set()
    await asyncio.sleep(4)  # the gap checks and resumes settle
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return compare(deployment, members), members


def compare(deployment: Deployment, members: list[Member]) -> Report:
    stored = {room: deployment.stored_ids(room) for room in ROOMS}
    missed = duplicated = 0
    for m in members:
        expected = [i for i in stored[m.room] if i > (m.baseline or "")]
        got = set(m.received)
        missed += sum(1 for i in expected if i not in got)
        duplicated += m.duplicates
    return Report(
        sent=sum(m.sent for m in members),
        acked=sum(len(m.acked) for m in members),
        stored=sum(len(ids) for ids in stored.values()),
        missed=missed,
        duplicated=duplicated,
        out_of_order=sum(m.out_of_order for m in members),
        longest_stall=max(m.longest_stall for m in members),
        reconnects=sum(m.reconnects for m in members),
        close_codes=[c for m in members for c in m.close_codes],
    )
