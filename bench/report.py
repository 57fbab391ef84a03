"""Render run.py's results as bench/RESULTS.md (figures per server, ratio to raw)."""

from __future__ import annotations

import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

# (scenario, result key, label, show ratio to raw)
ROWS = [
    ("saturate", "deliveries_per_s", "deliveries/s", True),
    ("saturate", "server_us_per_delivery", "server CPU µs / delivery", True),
    ("saturate", "p50_ms", "latency p50 ms", True),
    ("saturate", "p99_ms", "latency p99 ms", True),
    ("saturate", "lost", "lost deliveries", False),
    ("saturate", "server_cpu_pct", "server CPU % of its core", False),
    ("saturate", "loadgen_cpu_pct", "loadgen CPU % of its core", False),
    ("saturate", "wire_bytes_per_delivery", "bytes read / delivery", True),
    ("fanout", "deliveries_per_s", "delivered/s while sending", True),
    ("fanout", "loss_pct", "lost % (after drain)", False),
    ("fanout", "p50_ms", "latency p50 ms", True),
    ("fanout", "p99_ms", "latency p99 ms", True),
    ("fanout", "max_ms", "latency max ms", True),
    ("fanout", "server_us_per_delivery", "server CPU µs / delivery", True),
    ("rooms", "deliveries_per_s", "delivered/s while sending", True),
    ("rooms", "loss_pct", "lost % (after drain)", False),
    ("rooms", "p50_ms", "latency p50 ms", True),
    ("rooms", "p99_ms", "latency p99 ms", True),
    ("rooms", "server_us_per_delivery", "server CPU µs / delivery", True),
    ("idle", "joined", "joined connections", False),
    ("idle", "alive_after_hold", "answering ping after hold", False),
    ("idle", "kib_per_conn", "server RSS KiB / connection", True),
    ("persist", "messages_per_s", "acked chats/s", True),
    ("persist", "p50_ms", "ack latency p50 ms", True),
    ("persist", "p99_ms", "ack latency p99 ms", True),
    ("persist", "server_us_per_msg", "server CPU µs / chat", True),
    ("persist", "server_cpu_pct", "server CPU % of its core", False),
    ("persist-load", "messages_per_s", "acked chats/s", True),
    ("persist-load", "p50_ms", "ack latency p50 ms", True),
    ("persist-load", "p99_ms", "ack latency p99 ms", True),
    ("persist-load", "server_us_per_msg", "server CPU µs / chat", True),
    ("persist-load", "server_cpu_pct", "server CPU % of its core", False),
    ("joins", "wall_s", "wall s, first connect to last room_state", True),
    ("joins", "joins_per_s", "joins/s", True),
    ("joins", "server_us_per_join", "server CPU µs / join", True),
    ("joins", "server_cpu_ms", "server CPU ms total", True),
    ("joins", "p50_ms", "join latency p50 ms", True),
    ("joins", "p99_ms", "join latency p99 ms", True),
    ("joins", "failed", "failed joins", False),
    ("idle-deflate", "deflate_negotiated", "sockets with deflate agreed", False),
    ("idle-deflate", "kib_per_conn", "server RSS KiB / connection", True),
    ("saturate-deflate", "deflate_negotiated", "sockets with deflate agreed", False),
    ("saturate-deflate", "deliveries_per_s", "deliveries/s", True),
    ("saturate-deflate", "server_us_per_delivery", "server CPU µs / delivery", True),
    ("saturate-deflate", "wire_bytes_per_delivery", "bytes read / delivery", True),
    ("saturate-deflate", "p99_ms", "latency p99 ms", True),
    ("saturate-deflate", "server_cpu_pct", "server CPU % of its core", False),
    ("saturate-deflate", "loadgen_cpu_pct", "loadgen CPU % of its core", False),
    ("live", "offered_per_s", "deliveries/s offered", False),
    ("live", "deliveries_per_s", "delivered/s while sending", True),
    ("live", "per_viewer_per_s", "chats/s each viewer got", False),
    ("live", "sampled_out", "chats sampled out by policy", False),
    ("live", "lost", "lost deliveries (after drain)", False),
    ("live", "echo_missing", "own echoes missing", False),
    ("live", "p50_ms", "latency p50 ms", True),
    ("live", "p99_ms", "latency p99 ms", True),
    ("live", "max_ms", "latency max ms", True),
    ("live", "server_us_per_delivery", "server CPU µs / delivery", True),
    ("live", "server_cpu_pct", "server CPU % of its core", False),
    ("live", "loadgen_cpu_pct", "loadgen CPU % of its core", False),
]
TITLES = {
    "saturate": "fan-out, 200 subscribers, closed loop (saturating)",
    "fanout": "fan-out, 200 subscribers × 100 msg/s (20k deliveries/s offered)",
    "rooms": "100 rooms × 5 members × 1 msg/s",
    "idle": "2,000 idle joined connections",
    "persist": "persist: 20 senders in 10 rooms, next chat on own echo "
    "(bound by commit latency)",
    "persist-load": "persist under load: 60 senders in 30 rooms, next chat on own "
    "echo (per-process capacity)",
    "joins": "2,000 connect + auth + join (room_state), all at once, rooms of 20",
    "idle-deflate": "2,000 idle joined connections, permessage-deflate offered",
    "saturate-deflate": "fan-out, 200 subscribers, saturating, permessage-deflate "
    "offered",
    "live": "live room: 5,000 viewers, 5 of them send 20 danmaku/s in total "
    "(100k deliveries/s offered)",
}
PACKAGES = [
    "Django",
    "channels",
    "channels-redis",
    "daphne",
    "uvicorn",
    "websockets",
    "redis",
    "orjson",
]


def _num(v: object) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}" if v else "0"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _cell(res: dict, key: str, raw: dict | None, ratio: bool) -> str:
    if not res:
        return "not run"
    if "error" in res:
        return f"error: {res['error'][:60]}"
    v = res.get(key)
    text = _num(v)
    if ratio and raw and isinstance(v, (int, float)) and raw.get(key):
        text += f" ({v / raw[key]:.2g}×)"
    return text


def versions() -> list[str]:
    out = [f"Python {sys.version.split()[0]}"]
    for pkg in PACKAGES:
        try:
            out.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            out.append(f"{pkg} (absent)")
    try:
        import redis

        info = redis.Redis(socket_timeout=3).info("server")
        out.append(f"Redis server {info.get('redis_version')}")
    except Exception:
        out.append("Redis server (unreachable)")
    return out


def machine() -> str:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}"


def write_results(
    path: Path, results: dict, skipped: dict, plan: dict, mode: str, elapsed: float
) -> None:
    servers = list(results)
    raw = results.get("raw", {})
    lines = [
        "# Benchmark results",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M %Z')}, mode `{mode}`, {elapsed:.0f} s. "
        f"{machine()}. Server pinned to core 0, loadgen to core 1, loopback.",
        "",
        "Versions: " + ", ".join(versions()) + ".",
        "",
        "Cells: figure (figure ÷ the raw `websockets` ceiling's figure in this run). "
        "Quote ratios, not absolute numbers: the machine is shared. See README.md.",
        "",
    ]
    for name, why in skipped.items():
        lines += [f"**{name} skipped**: {why}", ""]
    lines += [
        "| scenario | figure | " + " | ".join(servers) + " |",
        "|---|---|" + "---|" * len(servers),
    ]
    last = None
    for scen, key, label, ratio in ROWS:
        if not any(scen in results[s] for s in servers):
            continue
        title = TITLES[scen] if scen != last else ""
        last = scen
        cells = [
            _cell(results[s].get(scen, {}), key, raw.get(scen), ratio) for s in servers
        ]
        lines.append(f"| {title} | {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Conditions per scenario",
        "",
        "other = busy CPU outside server, loadgen and Redis during the measured "
        "window (kernel socket work included; > ~30 % means a noisy machine); "
        "steal = hypervisor steal.",
        "",
        "| server | scenario | server CPU % | loadgen CPU % | Redis CPU % | other % "
        "| steal % | setup failures | error frames / other frames |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in servers:
        for scen, res in results[s].items():
            fails = "; ".join(
                f"{k} ×{v}" for k, v in res.get("setup_failures", {}).items()
            )
            frames = {**res.get("errors", {}), **res.get("other_frames", {})}
            if res.get("closed_by_server"):
                frames["closed by server (code: n)"] = res["closed_by_server"]
            lines.append(
                f"| {s} | {scen} | {_num(res.get('server_cpu_pct'))} "
                f"| {_num(res.get('loadgen_cpu_pct'))} "
                f"| {_num(res.get('redis_cpu_pct'))} "
                f"| {_num(res.get('other_cpu_pct'))} | {_num(res.get('steal_pct'))} "
                f"| {fails or '–'} | {_num(frames) if frames else '–'} |"
            )
    lines += ["", "## Loadgen arguments", ""]
    lines += [f"- `{scen}`: `loadgen.py {args}`" for scen, args in plan.items()]
    lines += ["", "Raw JSON per run and server logs: `bench/out/` (not committed).", ""]
    path.write_text("\n".join(lines))
