"""Autobahn|Testsuite's fuzzing client against the servers this project runs on.

    .venv/bin/python -m tests.security.autobahn_check [--cases 1.*,2.*]

`wstest` (Autobahn|Testsuite, Python 2.7 only) is looked for in `$WSTEST`, then
on PATH; without it this says so and exits 0, skipped, never faked. It is not a
pytest module: CI's PostgreSQL + Redis run fails on any skipped test.

The suite's cases expect an echo server, so each server runs `echo` below: the
production server (uvicorn with `realtime.wsprotocol`) and daphne (runserver's).
Then the real application on the production server gets the same frames on
`/ws`: it answers JSON errors rather than echoes, so there only the close
behaviour and the process surviving count. Prints the counts per behaviour
(OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED, FAILED) per agent.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Performance (9.*) and compression (12.*, 13.*) cases: minutes each, and
# permessage-deflate is not offered.
EXCLUDED = ["9.*", "12.*", "13.*"]


async def echo(scope, receive, send) -> None:
    """An ASGI WebSocket echo application (HTTP: 200 for readiness)."""
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    if scope["type"] != "websocket":
        return
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            await send({"type": "websocket.send", **_payload(message)})
        else:
            return


def _payload(message: dict) -> dict:
    if message.get("text") is not None:
        return {"text": message["text"]}
    return {"bytes": message.get("bytes") or b""}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(kind: str, app: str, port: int, workdir: Path) -> subprocess.Popen:
    if kind == "uvicorn":
        command = [
            str(BIN / "uvicorn"),
            "--port",
            str(port),
            "--ws",
            "realtime.wsprotocol:WebSocketProtocol",
            "--log-level",
            "warning",
            app,
        ]
    else:
        command = [str(BIN / "daphne"), "-p", str(port), app]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "yyc3_realtime.settings",
        "SQLITE_PATH": str(workdir / "db.sqlite3"),
        "LOG_LEVEL": "WARNING",
        "WS_MAX_BAD_MESSAGES_PER_MINUTE": "1000000",
        "WS_MESSAGES_PER_SECOND": "1000000",
        "WS_MESSAGES_BURST": "1000000",
        "WS_HANDSHAKES_PER_SECOND": "0",
        "ABUSE_BAN_THRESHOLD": "1000000000",
    }
    log = open(workdir / f"{kind}-{port}.log", "wb")  # noqa: SIM115 - kept open
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{kind} did not start")


def run_suite(wstest: str, agents: dict[str, str], cases: list[str], out: Path):
    spec = {
        "outdir": str(out),
        "servers": [{"agent": a, "url": url} for a, url in agents.items()],
        "cases": cases,
        "exclude-cases": EXCLUDED,
        "exclude-agent-cases": {},
    }
    spec_path = out / "spec.json"
    spec_path.write_text(json.dumps(spec))
    subprocess.run(
        [wstest, "-m", "fuzzingclient", "-s", str(spec_path)],
        cwd=out,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=1800,
    )
    index = json.loads((out / "index.json").read_text())
    return {
        agent: Counter(result["behavior"] for result in index[agent].values())
        for agent in index
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", default="*")
    args = parser.parse_args()
    wstest = os.environ.get("WSTEST") or shutil.which("wstest")
    if not wstest:
        print(
            "autobahn: skipped: no wstest (Autobahn|Testsuite needs Python 2.7:"
            " `pip2 install autobahntestsuite`, then set WSTEST)"
        )
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="autobahn-"))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=ROOT,
        env={**os.environ, "SQLITE_PATH": str(workdir / "db.sqlite3")},
        check=True,
    )
    ports = {name: free_port() for name in ("uvicorn", "daphne", "app")}
    echo_app = "tests.security.autobahn_check:echo"
    processes = [
        start("uvicorn", echo_app, ports["uvicorn"], workdir),
        start("daphne", echo_app, ports["daphne"], workdir),
        start("uvicorn", "yyc3_realtime.asgi:application", ports["app"], workdir),
    ]
    try:
        counts = run_suite(
            wstest,
            {
                "uvicorn-realtime-wsprotocol-echo": f"ws://127.0.0.1:{ports['uvicorn']}",
                "daphne-echo": f"ws://127.0.0.1:{ports['daphne']}",
                "yyc3-app-on-uvicorn": f"ws://127.0.0.1:{ports['app']}/ws",
            },
            args.cases.split(","),
            workdir,
        )
        alive = [p.poll() is None for p in processes]
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=15)
    for agent, behaviours in sorted(counts.items()):
        print(f"autobahn: {agent}: {dict(sorted(behaviours.items()))}")
    print(f"autobahn: servers alive after the suite: {alive}; reports in {workdir}")
    return 0 if all(alive) else 1


if __name__ == "__main__":
    sys.exit(main())
