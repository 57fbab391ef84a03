"""Moderation from the shell, through the same services as admin (live effect,
one ModerationLog row each, `--by` names the moderator; none: "system").

    manage.py moderate ban alice --room drama-1 --minutes 60 --reason "spam"
    manage.py moderate mute alice --reason "flood"          # site-wide, for good
    manage.py moderate lift alice [--room drama-1]
    manage.py moderate hide 000000000042-1093 --room drama-1
    manage.py moderate close drama-1 | reopen drama-1
    manage.py moderate words words.txt --action mask        # one word a line
"""

from datetime import timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from chat import selectors, services
from chat.models import ChatMessage, Room, SensitiveWord, parse_message_id


class Command(BaseCommand):
    help = "Ban, mute, lift, hide, close, reopen, import words: as admin does."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "what", choices=["ban", "mute", "lift", "hide", "close", "reopen", "words"]
        )
        parser.add_argument("target", help="username, message id, room id or file")
        parser.add_argument("--room", help="room id (default: site-wide)")
        parser.add_argument("--minutes", type=int, help="default: no end")
        parser.add_argument("--reason", default="")
        parser.add_argument("--by", help="the moderator's username")
        parser.add_argument(
            "--action", choices=SensitiveWord.Action.values, default="block"
        )

    def handle(self, *args, what: str, target: str, **opts) -> None:
        actor = self._user(opts["by"]) if opts["by"] else None
        room = self._room(opts["room"]) if opts["room"] else None
        if what in ("ban", "mute"):
            if not opts["reason"]:
                raise CommandError("a ban or mute needs --reason")
            minutes = opts["minutes"]
            ends_at = timezone.now() + timedelta(minutes=minutes) if minutes else None
            services.sanction_apply(
                user=self._user(target),
                kind=what,
                room=room,
                ends_at=ends_at,
                reason=opts["reason"],
                actor=actor,
            )
        elif what == "lift":
            held = selectors.sanctions_active().filter(
                user=self._user(target), room=room
            )
            for sanction in held.select_related("room", "user"):
                services.sanction_lift(
                    sanction=sanction, actor=actor, reason=opts["reason"]
                )
        elif what == "hide":
            services.message_hide(
                message=self._message(target, room), actor=actor, reason=opts["reason"]
            )
        elif what in ("close", "reopen"):
            change = services.room_close if what == "close" else services.room_reopen
            change(room=self._room(target), actor=actor, reason=opts["reason"])
        else:
            lines = Path(target).read_text(encoding="utf-8").splitlines()
            added = services.words_add(
                items=[(line, opts["action"]) for line in lines if line.strip()],
                actor=actor,
            )
            self.stdout.write(f"{added} word(s) added.")
            return
        self.stdout.write(self.style.SUCCESS(f"{what}: done."))

    def _user(self, username: str):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        return user

    def _room(self, room_id: str) -> Room:
        room = Room.objects.filter(room_id=room_id).first()
        if room is None:
            raise CommandError(f"no room {room_id!r}")
        return room

    def _message(self, message_id: str, room: Room | None) -> ChatMessage:
        if room is None:
            raise CommandError("hide needs --room")
        message = (
            ChatMessage.objects.select_related("room", "sender")
            .filter(room=room, seq=parse_message_id(message_id))
            .first()
        )
        if message is None:
            raise CommandError(f"no message {message_id!r} in {room.room_id}")
        return message
