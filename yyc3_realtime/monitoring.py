"""The live monitor in admin: a page for staff and the JSON it polls.

The JSON is built from the metrics every server process reports
(`realtime.monitor`): each process's `yyc3_*` samples as they are, so the page
computes rates per process (a restarted process starts from zero, as in
Prometheus), plus the busiest rooms over all processes and the bans in force.
Both views go through `admin.site.admin_view`: anyone but active staff is sent
to the admin's sign-in page.
"""

import time
from collections import Counter
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.db.models import Count
from django.http import HttpRequest, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from chat.models import Room
from chat.selectors import sanctions_active
from realtime.bans import bans_active
from realtime.monitor import read_snapshots

TOP_ROOMS = 10


def page(request: HttpRequest) -> TemplateResponse:
    """The live monitor: charts that poll `data` every METRICS_REPORT_SECONDS."""
    context = {
        **admin.site.each_context(request),
        "title": "Live monitor",
        "data_url": reverse("monitor-data"),
        "interval_ms": int(settings.METRICS_REPORT_SECONDS * 1000),
    }
    return TemplateResponse(request, "admin/monitor.html", context)


def data(request: HttpRequest) -> JsonResponse:
    """Return every live process's snapshot, the busiest rooms and the bans."""
    snapshots = sorted(read_snapshots(), key=lambda s: (s["host"], s["pid"]))
    latest = max(snapshots, key=lambda s: s["at"], default=None)
    return JsonResponse(
        {
            "at": time.time(),
            "interval": settings.METRICS_REPORT_SECONDS,
            "processes": [
                {key: s[key] for key in ("process", "host", "pid", "started", "at")}
                | {"samples": s["samples"]}
                for s in snapshots
            ],
            # Presence is shared (Redis) or this one process's: every snapshot
            # holds the same count, the newest is the one to show.
            "users_online": latest["users_online"] if latest else 0,
            "rooms": busiest_rooms(snapshots),
            "bans": bans_in_force(),
        }
    )


def busiest_rooms(snapshots: list[dict]) -> list[dict[str, Any]]:
    """Return the rooms with the most sockets, then chats per second, over
    every process (each reports its own busiest)."""
    sockets: Counter[int] = Counter()
    rates: Counter[int] = Counter()
    for snapshot in snapshots:
        window = max(snapshot["chats_window"], 1e-3)
        for pk, members, chats in snapshot["rooms"]:
            sockets[pk] += members
            rates[pk] += chats / window
    top = sorted(
        sockets.keys() | rates.keys(), key=lambda pk: (-sockets[pk], -rates[pk])
    )
    top = top[:TOP_ROOMS]
    # The wiring reads three columns of a few rooms: no selector of chat's for it.
    rooms = Room.objects.in_bulk(top)
    return [
        {
            "roomId": rooms[pk].room_id,
            "title": rooms[pk].title,
            "roomType": rooms[pk].room_type,
            "sockets": sockets[pk],
            "chatsPerSecond": round(rates[pk], 2),
        }
        for pk in top
        if pk in rooms
    ]


def bans_in_force() -> dict[str, dict[str, int]]:
    """Return the temporary bans (abuse score) and moderators' sanctions in
    force, by kind."""
    temporary = Counter(kind for kind, _ in bans_active())
    sanctions = dict(
        sanctions_active().values_list("kind").annotate(n=Count("pk")).order_by()
    )
    return {"temporary": dict(temporary), "sanctions": sanctions}
