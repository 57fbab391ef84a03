"""Bounded-memory latency histogram; /proc readings (CPU ticks, RSS, process trees)."""

from __future__ import annotations

import contextlib
import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


class Histogram:
    """Log-linear histogram of microseconds: exact below 64 µs, then 32 sub-buckets per
    power of two (≤ 3.2 % relative error). Fixed size whatever the sample count."""

    SIZE = 64 + 32 * 40  # up to ~2**45 µs, far beyond any run

    def __init__(self) -> None:
        self.counts = [0] * self.SIZE
        self.n = 0
        self.max_us = 0

    def add_us(self, v: int) -> None:
        if v < 0:
            v = 0
        if v < 64:
            idx = v
        else:
            e = v.bit_length() - 6
            idx = (e << 5) + (v >> e)
        self.counts[idx] += 1
        self.n += 1
        if v > self.max_us:
            self.max_us = v

    @staticmethod
    def _value(idx: int) -> int:
        """Lower bound of bucket `idx`, in µs."""
        if idx < 64:
            return idx
        e = (idx - 64) // 32 + 1
        return (idx - (e << 5)) << e

    def quantile(self, q: float) -> float | None:
        """q in [0, 1]; returns milliseconds (bucket lower bound), None if empty."""
        if not self.n:
            return None
        rank = max(1, int(q * self.n + 0.999999))
        seen = 0
        for idx, c in enumerate(self.counts):
            seen += c
            if seen >= rank:
                return self._value(idx) / 1000.0
        return self.max_us / 1000.0

    def summary(self) -> dict:
        return {
            "samples": self.n,
            "p50_ms": self.quantile(0.50),
            "p99_ms": self.quantile(0.99),
            "max_ms": self.max_us / 1000.0 if self.n else None,
        }


# -- /proc ------------------------------------------------------------------------
def _stat_fields(pid: int | str) -> list[str]:
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read().decode()
    return raw[raw.rfind(")") + 2 :].split()  # fields from #3 (state) on


def cpu_seconds(pid: int | str) -> float:
    """utime + stime of one process, seconds."""
    f = _stat_fields(pid)
    return (int(f[11]) + int(f[12])) / CLK_TCK  # fields 14 and 15 of proc(5)


def process_tree(root: int) -> list[int]:
    """`root` and all its live descendants (scans /proc once)."""
    parent: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                parent[int(name)] = int(_stat_fields(name)[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = [root], [root]
    while frontier:
        kids = [p for p, pp in parent.items() if pp in frontier]
        tree += kids
        frontier = kids
    return tree


def tree_cpu_seconds(root: int) -> float:
    total = 0.0
    for pid in process_tree(root):
        with contextlib.suppress(OSError):  # it may have exited meanwhile
            total += cpu_seconds(pid)
    return total


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tree_rss_kib(root: int) -> int:
    total = 0
    for pid in process_tree(root):
        with contextlib.suppress(OSError):
            total += rss_kib(pid)
    return total


def self_cpu_seconds() -> float:
    return cpu_seconds("self")


def find_listener_pid(port: int) -> int | None:
    """Pid owning the TCP socket listening on `port` (IPv4/IPv6), or None."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(cols[9])
        except OSError:
            continue
    targets = {f"socket:[{i}]" for i in inodes}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{name}/fd"):
                if os.readlink(f"/proc/{name}/fd/{fd}") in targets:
                    return int(name)
        except OSError:
            continue
    return None


def machine_cpu() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot (all cores)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = v
    return (user + nice + system + irq + softirq) / CLK_TCK, steal / CLK_TCK


class CpuWindow:
    """CPU seconds of the server tree and of this process between start() and stop(),
    and of everything else on the machine (other = noise from unrelated processes)."""

    redis_pid: int | None = None  # set once by the loadgen: Redis's CPU is reported too

    def __init__(self, server_pid: int | None) -> None:
        self.pid = server_pid
        self.server = self.own = self.wall = self.other = self.steal = self.redis = 0.0

    def start(self, wall: float) -> None:
        self._s0 = tree_cpu_seconds(self.pid) if self.pid else 0.0
        self._o0, self._w0 = self_cpu_seconds(), wall
        self._m0 = machine_cpu()
        self._r0 = self._redis_cpu()

    def stop(self, wall: float) -> None:
        self.server = (tree_cpu_seconds(self.pid) - self._s0) if self.pid else 0.0
        self.own, self.wall = self_cpu_seconds() - self._o0, wall - self._w0
        busy, steal = machine_cpu()
        self.redis = self._redis_cpu() - self._r0
        self.other = busy - self._m0[0] - self.own - self.server - self.redis
        self.steal = steal - self._m0[1]

    def _redis_cpu(self) -> float:
        try:
            return cpu_seconds(self.redis_pid) if self.redis_pid else 0.0
        except OSError:
            return 0.0

    def report(self, deliveries: int, per: str = "delivery") -> dict:
        """Figures over the window; `per` names the unit `deliveries` counts."""
        w = self.wall or 1e-9
        return {
            "window_s": round(self.wall, 3),
            "server_cpu_s": round(self.server, 2) if self.pid else None,
            "server_cpu_pct": round(100 * self.server / w, 1) if self.pid else None,
            f"server_us_per_{per}": (
                round(1e6 * self.server / deliveries, 2)
                if self.pid and deliveries
                else None
            ),
            "loadgen_cpu_pct": round(100 * self.own / w, 1),
            "redis_cpu_pct": round(100 * self.redis / w, 1) if self.redis_pid else None,
            # busy CPU of the machine outside server and loadgen (kernel work for the
            # sockets included), and time the hypervisor stole; high = noisy machine
            "other_cpu_pct": round(100 * self.other / w, 1) if self.pid else None,
            "steal_pct": round(100 * self.steal / w, 1),
        }
