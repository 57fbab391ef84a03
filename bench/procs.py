"""Process and machine helpers for run.py: ports, stopping servers, Redis cleanup,
waiting for a quiet machine."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


def stop(proc: subprocess.Popen) -> None:
    """SIGINT (graceful), then SIGTERM, then SIGKILL, to the server's process group."""
    for sig, grace in ((signal.SIGINT, 8), (signal.SIGTERM, 4), (signal.SIGKILL, 4)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            continue


def drop_redis_keys(prefix: str) -> int:
    """Delete the channel layer's keys of this run (never touches other keys)."""
    try:
        import redis

        r = redis.Redis(host="127.0.0.1", port=6379, socket_timeout=5)
        keys = list(r.scan_iter(match=f"{prefix}*", count=1000))
        return r.delete(*keys) if keys else 0
    except Exception as e:  # Redis down or redis-py missing: report and go on
        print(f"   (could not clean Redis keys {prefix}*: {e})")
        return 0


def _proc_stat() -> list[int]:
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:9]]


QUIET_BUDGET = [30.0]  # seconds of waiting for a quiet machine, for the whole run


def wait_quiet(limit_pct: float = 25.0) -> float:
    """Wait (bounded by QUIET_BUDGET) until other processes use < limit_pct of a core
    (measured over 1 s); returns the last reading."""
    while True:
        t = time.monotonic()
        a = _proc_stat()
        time.sleep(1.0)
        b = _proc_stat()
        busy = sum(b[i] - a[i] for i in (0, 1, 2, 5, 6))
        pct = 100.0 * busy / os.sysconf("SC_CLK_TCK")
        QUIET_BUDGET[0] -= time.monotonic() - t
        if pct < limit_pct or QUIET_BUDGET[0] <= 0:
            return pct
        print(f"   machine busy ({pct:.0f}% of a core used by others), waiting...")
