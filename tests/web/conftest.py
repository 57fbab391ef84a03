"""Browser tests of the web page: Playwright driving Debian's chromium against a
real server process on a free port, two users in two browser contexts.

The server is `manage.py runserver` (daphne's, as in the README's quick start: it
serves the page's static files in debug) on a copy of a migrated, seeded SQLite
file. Without the `playwright` package or `/usr/bin/chromium` every test here is
skipped with the reason; browsers are never downloaded (`apt-get install chromium
fonts-noto-cjk`). Screenshots of every page go to YYC3_WEB_ARTIFACTS (default: a
folder under pytest's temporary directory, printed at the end of the run).
"""

import contextlib
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.servers import (
    PASSWORD,
    ROOT,
    drop_redis_keys,
    free_port,
    seed_database,
    server_env,
    stop_process,
    wait_listening,
)
from tests.web.helpers import DESKTOP, NO_PLAYWRIGHT, PHONE

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # the tests skip; see pytest_collection_modifyitems
    sync_playwright = None

CHROMIUM = Path(os.environ.get("YYC3_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HERE = Path(__file__).resolve().parent
WAIT_MS = 10_000


def _missing() -> str | None:
    if sync_playwright is None:
        return NO_PLAYWRIGHT
    if not CHROMIUM.exists():
        return (
            f"needs Debian's chromium at {CHROMIUM}: "
            "apt-get install chromium fonts-noto-cjk"
        )
    return None


def pytest_collection_modifyitems(config, items):
    reason = _missing()
    if reason is None:
        return
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.skip(reason=reason))


# --- the server -------------------------------------------------------------------


@dataclass(frozen=True)
class SeededDatabase:
    path: Path
    tokens: dict[str, str]


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory) -> SeededDatabase:
    """A migrated SQLite file with the demo users and rooms (seed_demo)."""
    seeded = seed_database(tmp_path_factory.mktemp("web-db") / "db.sqlite3")
    return SeededDatabase(seeded.db_path, seeded.tokens)


class PageServer:
    """`manage.py runserver` on a free port with its own copy of the database."""

    def __init__(self, workdir: Path, seeded: SeededDatabase, **env: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.tokens = seeded.tokens
        self.db_path = workdir / "db.sqlite3"
        self.db_path.write_bytes(seeded.path.read_bytes())
        self.prefix = f"web{uuid.uuid4().hex[:12]}"
        self.log_path = workdir / "server.log"
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **server_env(self.db_path, self.prefix),
            "LOG_LEVEL": "INFO",
            # Every test signs in through the page: no sign-in throttling here.
            "AUTH_TOKEN_RATE": "10000/min",
            **env,
        }
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        command = [
            sys.executable,
            "manage.py",
            "runserver",
            "--noreload",
            f"127.0.0.1:{self.port}",
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=log
            )
        try:
            wait_listening(self.url, self.process, self.output)
        except AssertionError:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        drop_redis_keys(self.prefix)

    def output(self) -> str:
        return (
            self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        )

    def api(self, method: str, path: str, username: str = "alice", **kwargs):
        """Call the REST API as a demo user (a fresh token from the server)."""
        token = httpx.post(
            f"{self.url}/api/auth/token/",
            json={"username": username, "password": PASSWORD},
            timeout=10,
        ).json()["access"]
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.request(
            method, f"{self.url}{path}", headers=headers, timeout=10, **kwargs
        )


# Slow mode in the live room is long enough that a second send is surely refused.
SHARED_ENV = {"LIVE_STREAM_SLOW_MODE_SECONDS": "3"}


@pytest.fixture(scope="module")
def web_server(seeded_db, tmp_path_factory) -> Iterator[PageServer]:
    """A server shared by one module's tests (they use rooms of their own)."""
    server = PageServer(tmp_path_factory.mktemp("web-server"), seeded_db, **SHARED_ENV)
    yield server
    server.close()


@pytest.fixture
def own_web_server(seeded_db, tmp_path) -> Iterator[PageServer]:
    """A server for one test that restarts it or changes what others rely on."""
    server = PageServer(tmp_path / "server", seeded_db, **SHARED_ENV)
    yield server
    server.close()


# --- the browser ------------------------------------------------------------------


_ARTIFACTS: list[Path] = []


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory) -> Path:
    path = Path(
        os.environ.get("YYC3_WEB_ARTIFACTS")
        or tmp_path_factory.getbasetemp() / "web-artifacts"
    )
    path.mkdir(parents=True, exist_ok=True)
    _ARTIFACTS.append(path)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator["Browser"]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser, request, artifacts_dir):
    """Open a page in a browser context of its own (its own user, storage and
    viewport): `new_page(server, viewport=PHONE, name="bob")`; `setup(context)`
    runs before the page loads. Screenshots are saved at the end; errors thrown
    by the page's scripts fail the test."""
    opened: list[tuple[str, Page]] = []
    errors: list[str] = []

    def open_page(
        server: PageServer, *, viewport=DESKTOP, name="page", setup=None, **options
    ):
        context = browser.new_context(
            viewport=viewport,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            is_mobile=viewport is PHONE,
            has_touch=viewport is PHONE,
            **options,
        )
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"{name}: {exc}"))
        if setup is not None:
            setup(context)  # e.g. routes, before the page opens its socket
        page.goto(server.url + "/")
        opened.append((name, page))
        return page

    yield open_page
    test = re.sub(r"[^\w.-]+", "_", request.node.name)
    for number, (name, page) in enumerate(opened):
        # A page that is gone has no picture.
        with contextlib.suppress(Exception):
            page.screenshot(path=str(artifacts_dir / f"{test}-{number}-{name}.png"))
        page.context.close()
    assert not errors, f"the page threw: {errors}"


def pytest_terminal_summary(terminalreporter, config):
    for folder in _ARTIFACTS:
        terminalreporter.write_line(f"web page screenshots: {folder}")
