"""`manage.py moderate`: the shell's path through the same services, logged."""

import io

import pytest

from django.core.management import call_command
from django.core.management.base import CommandError

from chat import services, words
from chat.models import ChatMessage, ModerationLog, Room, RoomType, Sanction

pytestmark = pytest.mark.django_db


def moderate(*args: str) -> str:
    out = io.StringIO()
    call_command("moderate", *args, stdout=out)
    return out.getvalue()


def test_ban_mute_lift_hide_close_reopen_and_words_are_logged(
    alice, bob, moderator, tmp_path
):
    room = Room.objects.create(room_id="c-cmd", room_type=RoomType.CULTURAL_CIRCLE)
    data, _ = services.message_create(room=room, user=alice, text="hello")

    moderate(
        "ban",
        "bob",
        "--room",
        "c-cmd",
        "--minutes",
        "30",
        "--reason",
        "x",
        "--by",
        "mod",
    )
    moderate("mute", "alice", "--reason", "flood")
    moderate("lift", "bob", "--room", "c-cmd", "--by", "mod")
    moderate("hide", data["id"], "--room", "c-cmd", "--by", "mod")
    moderate("close", "c-cmd")
    moderate("reopen", "c-cmd")
    listed = tmp_path / "words.txt"
    listed.write_text("坏词\n\nＢＡＤ\n", encoding="utf-8")
    assert moderate("words", str(listed), "--action", "mask").startswith("2 word(s)")

    ban = Sanction.objects.get(user=bob)
    assert not ban.is_active() and ban.room == room
    mute = Sanction.objects.get(user=alice)
    assert (mute.kind, mute.room, mute.ends_at) == ("mute", None, None)
    assert ChatMessage.objects.get().is_hidden
    assert words.screen("so bad").text == "so ＊＊＊"
    log = list(ModerationLog.objects.order_by("pk").values_list("action", "actor_name"))
    assert log == [
        ("ban", "mod"),
        ("mute", "system"),
        ("sanction_lift", "mod"),
        ("message_hide", "mod"),
        ("room_close", "system"),
        ("room_reopen", "system"),
        ("word_add", "system"),
        ("word_add", "system"),
    ]


def test_a_ban_needs_a_reason(bob):
    with pytest.raises(CommandError):
        moderate("ban", "bob")
    assert not Sanction.objects.exists()
