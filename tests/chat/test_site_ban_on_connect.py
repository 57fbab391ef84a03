"""A user banned site-wide is refused at authentication, not only at each join."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async

from django.utils import timezone

from chat.models import Room, RoomType, Sanction
from chat.services.moderation import sanction_apply, sanction_lift
from tests import ws
from tests.chat.test_protocol_frames import assert_frame

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def test_a_site_banned_user_is_refused_4003_with_until(connect, alice, token_for):
    ends = timezone.now() + timedelta(hours=1)
    await sync_to_async(sanction_apply)(
        user=alice, kind=Sanction.Kind.BAN, reason="spam", ends_at=ends
    )
    sock = await connect(token=token_for(alice), auth=False)
    assert (await ws.recv(sock))["type"] == "auth_success"
    refused = await ws.recv(sock)
    assert_frame(refused)
    assert refused["data"]["code"] == "forbidden"
    assert refused["data"]["until"].endswith("Z")
    assert await ws.expect_close(sock) == 4003


async def test_once_lifted_the_user_connects_again(connect_ready, alice, token_for):
    ban = await sync_to_async(sanction_apply)(
        user=alice, kind=Sanction.Kind.BAN, reason="spam"
    )
    await sync_to_async(sanction_lift)(sanction=ban)
    sock = await connect_ready(token=token_for(alice))
    assert await ws.ping(sock)


async def test_a_room_ban_does_not_refuse_the_connection(
    connect_ready, alice, token_for
):
    room = await Room.objects.acreate(room_id="c-1", room_type=RoomType.CULTURAL_CIRCLE)
    await sync_to_async(sanction_apply)(
        user=alice, kind=Sanction.Kind.BAN, reason="spam", room=room
    )
    sock = await connect_ready(token=token_for(alice))
    assert await ws.ping(sock)
