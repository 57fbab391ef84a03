"""Demo data: users, a drama, and one room of each type; `moderator` is staff in
the Moderators group (not a superuser)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from chat.models import Drama, Room, RoomType
from chat.roles import moderators_group

PASSWORD = "demo12345"
USERS = [
    ("alice", "Alice", False),
    ("bob", "Bob", False),
    ("moderator", "Moderator", True),
]


class Command(BaseCommand):
    help = "Create demo users, a drama and one room of each type (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        User = get_user_model()
        moderators = moderators_group()
        users = {}
        for username, first_name, staff in USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first_name, "is_staff": staff},
            )
            if created:
                user.set_password(PASSWORD)
            # Earlier seeds made the moderator a superuser: moderators are not.
            user.is_superuser = False
            user.save()
            if staff:
                user.groups.add(moderators)
            users[username] = user
        drama, _ = Drama.objects.get_or_create(
            title="河洛传奇",
            defaults={
                "owner": users["alice"],
                "status": Drama.Status.APPROVED,
                "description": "一部关于河图洛书传说的短剧。",
                "episode_count": 12,
            },
        )
        rooms = [
            (f"drama-{drama.pk}", RoomType.DRAMA_CHAT, drama.title, {"drama": drama}),
            ("live-heluo", RoomType.LIVE_STREAM, "洛阳牡丹直播", {}),
            (
                "ai-alice",
                RoomType.AI_ASSISTANT,
                "Alice 的 AI 助手",
                {"owner": users["alice"]},
            ),
            ("circle-heluo", RoomType.CULTURAL_CIRCLE, "河洛文化圈", {}),
        ]
        for room_id, room_type, title, extra in rooms:
            Room.objects.get_or_create(
                room_id=room_id,
                defaults={"room_type": room_type, "title": title, **extra},
            )
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(
            f"Sign in at http://127.0.0.1:8000/ as alice or bob, password {PASSWORD};\n"
            f"admin at http://127.0.0.1:8000/admin/ as moderator, "
            f"password {PASSWORD}.\n"
            "Token: curl -X POST http://127.0.0.1:8000/api/auth/token/ "
            "-H 'Content-Type: application/json' "
            f'-d \'{{"username":"alice","password":"{PASSWORD}"}}\'\n'
            "Rooms: " + ", ".join(room_id for room_id, *_ in rooms)
        )
