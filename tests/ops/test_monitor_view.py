"""The live monitor in admin (issue 14, item 2): staff only, its chart library
served from our static files, and its JSON built from what every process
reports (here: this test's process, after real socket traffic)."""

import asyncio
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async

from django.contrib.staticfiles import finders
from django.test import Client
from django.utils import timezone

from chat.models import Room, RoomType, Sanction
from realtime import runtime
from realtime.models import TemporaryBan
from tests import ws

PAGE, DATA = "/admin/monitor/", "/admin/monitor/data/"
VENDOR = ("vendor/uplot/uPlot.iife.min.js", "vendor/uplot/uPlot.min.css")


@pytest.fixture
def staff_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user("ops", is_staff=True))
    return client


@pytest.mark.django_db
def test_staff_get_the_page_with_its_charting_library_from_our_static_files(
    staff_client,
):
    response = staff_client.get(PAGE)
    assert response.status_code == 200
    page = response.content.decode()
    for path in (*VENDOR, "js/monitor.js"):
        assert f"/static/{path}" in page
        assert finders.find(path), f"{path} is not among the static files"
    assert 'data-url="/admin/monitor/data/"' in page
    assert "https://" not in page.split("<body")[0]  # no CDN in the head
    # The admin's index links to it.
    assert PAGE in staff_client.get("/admin/").content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("path", [PAGE, DATA])
def test_anyone_but_staff_is_sent_to_the_admin_sign_in(make_user, path):
    anonymous = Client().get(path)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/admin/login/")
    member = Client()
    member.force_login(make_user("member"))  # signed in, not staff
    refused = member.get(path)
    assert refused.status_code == 302
    assert refused["Location"].startswith("/admin/login/")
    inactive = Client()
    inactive.force_login(make_user("gone", is_staff=True, is_active=False))
    assert inactive.get(path).status_code == 302


async def wait_for(condition, read, timeout: float = 5.0):
    """Read until `condition(read())` holds (bounded); return the last read."""
    deadline = time.monotonic() + timeout
    while True:
        got = await read()
        if condition(got) or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.05)


def connections_of(body: dict, process: str) -> float | None:
    for entry in body["processes"]:
        if entry["process"] == process:
            return sum(
                value
                for name, _, value in entry["samples"]
                if name == "yyc3_connections"
            )
    return None


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_data_holds_this_process_its_busiest_room_and_the_bans(
    settings, connect_ready, make_user, alice, bob, token_for
):
    """Two sockets in a room and some chats: the process's report shows them,
    the room leads the busiest rooms with its title and a chat rate, and the
    bans in force are counted."""
    settings.METRICS_REPORT_SECONDS = 0.1
    staff = Client()
    await sync_to_async(staff.force_login)(
        await sync_to_async(make_user)("ops", is_staff=True)
    )
    read = sync_to_async(lambda: staff.get(DATA).json())
    await Room.objects.acreate(
        room_id="busy", room_type=RoomType.CULTURAL_CIRCLE, title="最热闹的圈子"
    )
    await TemporaryBan.objects.acreate(
        kind="address",
        value="203.0.113.9",
        reason="test",
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    await Sanction.objects.acreate(kind="mute", user=bob, reason="test")
    a = await connect_ready(token=token_for(alice))
    b = await connect_ready(token=token_for(bob))
    for comm in (a, b):
        await ws.join(comm, "busy", "cultural_circle")
    for n in range(3):
        await ws.chat(a, "busy", f"chat {n}")
        await ws.recv_type(b, "chat", skip=("user_joined",))
    here = runtime().process_id

    body = await wait_for(
        lambda got: (
            connections_of(got, here) == 2
            and any(r["roomId"] == "busy" and r["chatsPerSecond"] for r in got["rooms"])
        ),
        read,
    )
    assert connections_of(body, here) == 2
    busy = next(r for r in body["rooms"] if r["roomId"] == "busy")
    assert busy["title"] == "最热闹的圈子"
    assert busy["roomType"] == "cultural_circle"
    assert busy["sockets"] == 2
    assert busy["chatsPerSecond"] > 0
    assert body["users_online"] >= 2
    assert body["bans"] == {"temporary": {"address": 1}, "sanctions": {"mute": 1}}
    assert body["interval"] == 0.1
    process = next(p for p in body["processes"] if p["process"] == here)
    names = {name for name, _, _ in process["samples"]}
    assert {"yyc3_frames_in_total", "yyc3_frames_out_total"} <= names

    await a.disconnect()
    body = await wait_for(lambda got: connections_of(got, here) == 1, read)
    assert connections_of(body, here) == 1
