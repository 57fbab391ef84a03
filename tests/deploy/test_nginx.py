"""The deploy kit (deploy/) run for real: nginx with the rendered site in front of
two server processes started with the systemd unit's own command line.

Checked through nginx over TLS (a self-signed certificate made here): the
redirect to https, /healthz, static files from STATIC_ROOT, /metrics kept
private, X-Forwarded-For, the upgrade on both socket routes, sockets spread over
both processes, a chat across them (with Redis), and a process stopping under
its sockets: they close 1012 and a new socket reaches the other process. Without
nginx: that the socket timeouts outlast the heartbeats, and that the systemd
units parse. Nothing is installed here: without /usr/sbin/nginx (`apt-get install
nginx-light`), the openssl command or systemd-analyze those tests skip and say
why.
"""

import os
import re
import secrets
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.servers import (
    AFTER_AUTH,
    APP,
    BIN,
    CIRCLE,
    COMMANDS,
    ROOT,
    TIMEOUT,
    Server,
    Template,
    free_port,
    recv,
    recv_type,
    send,
)

NGINX = Path("/usr/sbin/nginx")
OPENSSL = shutil.which("openssl")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "systemd" / "yyc3-realtime@.service"
UNITS = sorted((DEPLOY / "systemd").iterdir())
ROOM_PATH = f"/ws/cultural_circle/{CIRCLE}/"
# The seed's client pings every 30 s (setInterval(..., 30000)); the web page 25 s.
CLIENT_HEARTBEAT_SECONDS = 30
IN_ROOM = (*AFTER_AUTH, "user_joined", "user_left", "presence")
# A client address other than nginx's own (any 127.x reaches loopback on Linux).
CLIENT = "127.0.0.5"
PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    # What docs/deploy.md has the operator set with nginx on the same host.
    "TRUSTED_PROXIES": "127.0.0.1/32",
    "CULTURAL_CIRCLE_SLOW_MODE_SECONDS": "0",
}

# The main nginx.conf around the site, as Debian's /etc/nginx/nginx.conf is, but
# everything in the test's directory: no root needed, nothing left behind.
MAIN_CONF = """\
{user}worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/main-error.log warn;
events {{ worker_connections 512; }}
http {{
    client_body_temp_path {prefix}/temp/body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;
    access_log {prefix}/logs/main-access.log;
    include {prefix}/yyc3-realtime.conf;
}}
"""
ACCESS_LINE = re.compile(
    r'"\S+ (?P<uri>\S+) \S+" (?P<status>\d+) .* '
    r'upstream="(?P<upstream>[^"]*)"'
)


def render_site(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(DEPLOY / "render.py"), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def unit_argv() -> list[str]:
    """Return the unit's ExecStart as an argument list (%i left in)."""
    text = UNIT.read_text().replace("\\\n", " ")
    line = next(ln for ln in text.splitlines() if ln.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


def unit_command() -> list[str]:
    """The unit's command line for tests.test_server_process.Server: this venv's
    uvicorn, `{port}` for the instance, the application left for Server to add."""
    argv = unit_argv()
    assert APP in argv, argv
    return [
        str(BIN / Path(argv[0]).name),
        *(arg.replace("%i", "{port}") for arg in argv[1:] if arg != APP),
    ]


def seconds(value: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    if value[-1] in units:
        return float(value[:-1]) * units[value[-1]]
    return float(value)


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


class Nginx:
    """nginx running the rendered site for the given backends, in `prefix`."""

    def __init__(self, prefix: Path, backends: list[Server], tls: Certificate):
        self.prefix = prefix
        self.http_port, self.https_port = free_port(), free_port()
        self.static_root = prefix / "staticfiles"
        self.logs = prefix / "logs"
        for directory in (self.static_root, self.logs, prefix / "temp"):
            directory.mkdir(parents=True)
        self.site = render_site(
            "--server-name=localhost 127.0.0.1",
            f"--backends={','.join(f'127.0.0.1:{b.port}' for b in backends)}",
            f"--listen-http=127.0.0.1:{self.http_port}",
            f"--listen-https=127.0.0.1:{self.https_port}",
            f"--tls-cert={tls.cert}",
            f"--tls-key={tls.key}",
            f"--static-root={self.static_root}",
            f"--log-dir={self.logs}",
        )
        (prefix / "yyc3-realtime.conf").write_text(self.site)
        conf = prefix / "nginx.conf"
        # As root, nginx's workers would drop to `nobody` and find the test's
        # private directory closed.
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf.write_text(MAIN_CONF.format(user=user, prefix=prefix))
        self.ssl = tls.client_context()
        self.https = f"https://127.0.0.1:{self.https_port}"
        self.wss = f"wss://127.0.0.1:{self.https_port}"
        self.output = prefix / "nginx.out"
        with open(self.output, "wb") as out:
            self.process = subprocess.Popen(
                [str(NGINX), "-p", str(prefix), "-c", str(conf)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"nginx exited:\n{self.output.read_text()}")
            try:
                if self.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"nginx did not start:\n{self.output.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.process.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def get(self, path: str, **kwargs) -> httpx.Response:
        return httpx.get(
            f"{self.https}{path}", verify=self.ssl, timeout=TIMEOUT, **kwargs
        )

    def socket(self, path: str, token: str, **kwargs) -> ClientConnection:
        return connect(
            f"{self.wss}{path}?token={token}",
            ssl=self.ssl,
            open_timeout=TIMEOUT,
            **kwargs,
        )

    @property
    def access_log(self) -> Path:
        return self.logs / "yyc3-realtime.access.log"

    def log_mark(self) -> int:
        return self.access_log.stat().st_size if self.access_log.exists() else 0

    def sockets(self, mark: int, count: int) -> list[tuple[str, list[int]]]:
        """Return the socket connections logged since `mark`, in the order they
        closed: each one's URI and the backend ports nginx tried, in order.
        A socket is logged when it closes; this waits for `count` of them."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            with open(self.access_log, "rb") as log:
                log.seek(mark)
                lines = log.read().decode().splitlines()
            found = [
                (match["uri"], [int(a.rsplit(":", 1)[1]) for a in tried])
                for match in map(ACCESS_LINE.search, lines)
                if match and match["status"] == "101"
                for tried in [match["upstream"].split(", ")]
            ]
            if len(found) >= count:
                assert len(found) == count, lines
                return found
            assert time.monotonic() < deadline, f"{count} sockets not in {lines}"
            time.sleep(0.05)

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.logs.iterdir())


@dataclass
class Deployment:
    backends: list[Server]
    nginx: Nginx
    tokens: dict[str, str]

    def stop(self) -> None:
        self.nginx.stop()
        for backend in self.backends:
            backend.stop()


@pytest.fixture(scope="module")
def unit_kind():
    """A server kind for tests.test_server_process.Server: the unit's command."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(COMMANDS, "systemd-unit", unit_command())
        yield "systemd-unit"


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> Certificate:
    if OPENSSL is None:
        pytest.skip("needs the openssl command to make a self-signed certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return Certificate(cert, key)


@pytest.fixture(scope="module")
def nginx_installed() -> None:
    if not NGINX.exists():
        pytest.skip(f"needs nginx at {NGINX}: apt-get install nginx-light")


def deploy(
    workdir: Path, template: Template, kind: str, tls: Certificate
) -> Deployment:
    first = Server(kind, workdir / "a", template, **PRODUCTION)
    backends = [first]
    try:
        backends.append(
            Server(kind, workdir / "b", template, share_with=first, **PRODUCTION)
        )
        # Tokens signed with the production secret, from the server's endpoint.
        tokens = {user: first.obtain_token(user) for user in ("alice", "bob")}
        nginx = Nginx(workdir / "nginx", backends, tls)
    except BaseException:
        for backend in backends:
            backend.stop()
        raise
    return Deployment(backends, nginx, tokens)


@pytest.fixture(scope="module")
def deployment(nginx_installed, tmp_path_factory, template, unit_kind, tls):
    """nginx and two processes, shared by the tests that stop nothing."""
    running = deploy(tmp_path_factory.mktemp("deploy"), template, unit_kind, tls)
    yield running
    running.stop()


@pytest.fixture
def own_deployment(nginx_installed, tmp_path, template, unit_kind, tls):
    """nginx and two processes for a test that stops one of them."""
    running = deploy(tmp_path, template, unit_kind, tls)
    yield running
    running.stop()


def ready(client: ClientConnection, room_route: bool = False) -> None:
    """Read `auth_success` (and, on a room route, the room's `room_state`)."""
    assert recv(client)["type"] == "auth_success"
    if room_route:
        # Another socket's join may come first: both sockets are opened at once.
        assert recv_type(client, "room_state", IN_ROOM)["data"]["roomId"] == CIRCLE


def join(client: ClientConnection) -> None:
    send(client, {"type": "join_room", "data": {"roomId": CIRCLE}})
    assert recv_type(client, "room_state", IN_ROOM)["data"]["roomId"] == CIRCLE


def chat_echo(client: ClientConnection, text: str, with_room: bool = True) -> None:
    data = {"roomId": CIRCLE, "message": text} if with_room else {"message": text}
    send(client, {"type": "chat", "data": data})
    # With Redis the other test socket in the room may chat meanwhile.
    while recv_type(client, "chat", IN_ROOM)["data"]["message"] != text:
        pass


# --- configuration ------------------------------------------------------------


def test_nginx_keeps_a_quiet_socket_open_longer_than_the_heartbeats():
    """nginx cuts an upgraded connection after proxy_read_timeout without a byte
    from the process (60 s by default). A live process pings every socket every
    --ws-ping-interval and closes one --ws-ping-timeout later without a pong;
    clients ping every 30 s. The socket locations must outlast all of those."""
    site = render_site()
    block = re.search(r"location ~ \^/ws\(/\|\$\) \{(.*?)\n    \}", site, re.S)
    assert block, site
    directives = dict(re.findall(r"^\s*(proxy_\w+_timeout) (\S+);", block[1], re.M))
    argv = unit_argv()
    interval = float(argv[argv.index("--ws-ping-interval") + 1])
    pong_wait = float(argv[argv.index("--ws-ping-timeout") + 1])
    heartbeat = max(interval + pong_wait, CLIENT_HEARTBEAT_SECONDS)
    assert seconds(directives["proxy_read_timeout"]) > heartbeat
    assert seconds(directives["proxy_send_timeout"]) > heartbeat


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="needs systemd-analyze")
def test_the_systemd_units_parse(tmp_path):
    """`systemd-analyze verify` on the units, the template as instance 8001. The
    only complaint allowed is that /srv/yyc3-realtime is not installed here."""
    names = []
    for unit in UNITS:
        names.append(str(tmp_path / unit.name.replace("@.", "@8001.")))
        shutil.copy(unit, names[-1])
    done = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", *names], capture_output=True, text=True
    )
    absent = re.compile(r"Command /srv/yyc3-realtime/\.venv/bin/\w+ is not executable")
    complaints = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if line.strip() and not absent.search(line)
    ]
    assert complaints == []


# --- through nginx --------------------------------------------------------------


def test_http_redirects_to_https_which_serves_the_api_and_static_files(deployment):
    """Plain HTTP only redirects; over TLS the API reaches a process, static
    files come from STATIC_ROOT, and /metrics stays private."""
    nginx = deployment.nginx
    plain = httpx.get(
        f"http://127.0.0.1:{nginx.http_port}/healthz?a=1", timeout=TIMEOUT
    )
    assert plain.status_code == 301
    assert plain.headers["location"] == f"{nginx.https}/healthz?a=1"

    assert nginx.get("/healthz").json() == {"status": "ok"}

    # Only nginx has this file: it comes from STATIC_ROOT, not from a process.
    (nginx.static_root / "probe.txt").write_text("served by nginx")
    static = nginx.get("/static/probe.txt")
    assert static.text == "served by nginx"
    assert static.headers["cache-control"] == "max-age=3600"

    assert nginx.get("/metrics").status_code == 403


def test_sockets_on_both_routes_chat_and_spread_over_both_processes(deployment):
    """least_conn: the second socket, opened while the first is open, goes to the
    other process. Each authenticates, is in the room and gets its own chat."""
    nginx, tokens = deployment.nginx, deployment.tokens
    mark = nginx.log_mark()
    with (
        nginx.socket("/ws", tokens["alice"]) as first,
        nginx.socket(ROOM_PATH, tokens["bob"]) as second,
    ):
        ready(first)
        ready(second, room_route=True)
        join(first)
        chat_echo(first, "经由 /ws")
        chat_echo(second, "经由房间路由", with_room=False)
    served = {uri: tried[-1] for uri, tried in nginx.sockets(mark, 2)}
    ports = {backend.port for backend in deployment.backends}
    assert served.keys() == {"/ws", ROOM_PATH}
    assert set(served.values()) == ports


def test_the_server_sees_the_address_nginx_saw_not_a_forged_one(deployment):
    """nginx appends the peer it saw to X-Forwarded-For; the process trusts only
    nginx (127.0.0.1) and takes the right-most entry that is not nginx. A client
    that sends its own X-Forwarded-For changes nothing: the server still sees
    the client's address (uvicorn's access log shows it)."""
    nginx, tokens = deployment.nginx, deployment.tokens
    forged = {"X-Forwarded-For": "203.0.113.7"}
    transport = httpx.HTTPTransport(local_address=CLIENT, verify=nginx.ssl)
    with httpx.Client(transport=transport, timeout=TIMEOUT) as client:
        assert client.get(f"{nginx.https}/healthz", headers=forged).status_code == 200
    with nginx.socket(
        "/ws",
        tokens["alice"],
        additional_headers=forged,
        source_address=(CLIENT, 0),
    ) as socket:
        ready(socket)
    for request in ('"GET /healthz', '"WebSocket /ws'):
        seen = f"{CLIENT}:0 - {request}"
        deadline = time.monotonic() + TIMEOUT
        while not any(seen in backend.output() for backend in deployment.backends):
            assert time.monotonic() < deadline, f"no {seen!r} in the servers' logs"
            time.sleep(0.05)


@pytest.mark.redis
def test_a_chat_crosses_from_one_process_to_the_other(deployment):
    """The sockets land on different processes (least_conn); the Redis channel
    layer carries Bob's chat to Alice's."""
    nginx, tokens = deployment.nginx, deployment.tokens
    mark = nginx.log_mark()
    with (
        nginx.socket("/ws", tokens["alice"]) as alice,
        nginx.socket(ROOM_PATH, tokens["bob"]) as bob,
    ):
        ready(alice)
        join(alice)
        ready(bob, room_route=True)
        chat_echo(bob, "你好，另一边", with_room=False)
        got = recv_type(alice, "chat", IN_ROOM)["data"]
        assert (got["message"], got["senderName"]) == ("你好，另一边", "Bob")
    served = {uri: tried[-1] for uri, tried in nginx.sockets(mark, 2)}
    assert served["/ws"] != served[ROOM_PATH]


def test_a_stopping_process_closes_1012_and_new_sockets_reach_the_other(
    own_deployment,
):
    """SIGTERM, as systemd stops a unit: the process's sockets close with 1012
    through nginx; the other process's socket stays; a new socket is refused by
    the stopped process and nginx hands it to the other. No token reaches
    nginx's logs, though that refused connect is an error nginx would log with
    the request line."""
    nginx, tokens = own_deployment.nginx, own_deployment.tokens
    stopped, other = own_deployment.backends
    mark = nginx.log_mark()
    with (
        nginx.socket("/ws", tokens["alice"]) as first,
        nginx.socket(ROOM_PATH, tokens["bob"]) as second,
    ):
        ready(first)
        ready(second, room_route=True)
        stopped.process.send_signal(signal.SIGTERM)
        stopped.process.wait(timeout=TIMEOUT)
        outcomes = {}
        for name, client in (("/ws", first), (ROOM_PATH, second)):
            try:
                send(client, {"type": "ping", "requestId": name})
                recv_type(client, "pong", IN_ROOM)
                outcomes[name] = "open"
            except ConnectionClosed as closed:
                outcomes[name] = closed.rcvd.code if closed.rcvd else None
        assert sorted(map(str, outcomes.values())) == ["1012", "open"]

        with nginx.socket("/ws", tokens["alice"]) as again:
            ready(again)
            join(again)
            chat_echo(again, "换了一个进程")
    # `again` tried the stopped process first (it had the fewest sockets), was
    # refused, and went on to the other; the first two stayed where they were.
    logged = nginx.sockets(mark, 3)
    failover = [(uri, tried) for uri, tried in logged if len(tried) > 1]
    assert failover == [("/ws", [stopped.port, other.port])]
    by_process = {tried[0]: outcomes[uri] for uri, tried in logged if len(tried) == 1}
    assert by_process == {stopped.port: 1012, other.port: "open"}
    logs = nginx.log_text()
    for token in tokens.values():
        assert token.rsplit(".", 1)[1][:20] not in logs


def test_the_rolling_restart_waits_for_each_process_before_the_next(tmp_path):
    """deploy/rolling-restart.sh with `systemctl` and `curl` stand-ins that log
    their calls; each process answers /readyz only on the second try."""
    calls = tmp_path / "calls"
    stubs = {
        "systemctl": f"""
            echo "systemctl $*" >> {calls}
            if [ "$1" = list-units ]; then
                echo "yyc3-realtime@8001.service loaded active running x"
                echo "yyc3-realtime@8002.service loaded active running x"
            fi
        """,
        "curl": f"""
            echo "curl $*" >> {calls}
            for url; do :; done  # the last argument
            grep -c "$url" {calls} | grep -qx 2
        """,
    }
    for name, body in stubs.items():
        (tmp_path / name).write_text("#!/bin/sh\n" + body)
        (tmp_path / name).chmod(0o755)
    done = subprocess.run(
        ["sh", str(DEPLOY / "rolling-restart.sh"), "0"],
        env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    readyz = "curl -fsS -o /dev/null http://127.0.0.1:{}/readyz"
    assert calls.read_text().splitlines()[1:] == [
        "systemctl restart yyc3-realtime@8001.service",
        readyz.format(8001),
        readyz.format(8001),
        "systemctl restart yyc3-realtime@8002.service",
        readyz.format(8002),
        readyz.format(8002),
    ]
