"""Make N benchmark users and write one access token per line (bench/ uses it).

The users may open live streams (`chat.add_room`): the benchmark's rooms are
live streams made by joining them, which only hosts may do.
"""

from rest_framework_simplejwt.tokens import AccessToken

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create users bench-00000.. and write an access token for each to --out."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--count", type=int, default=1000)
        parser.add_argument("--out", required=True)

    def handle(self, *args, count: int, out: str, **options) -> None:
        User = get_user_model()
        names = [f"bench-{i:05d}" for i in range(count)]
        existing = set(
            User.objects.filter(username__in=names).values_list("username", flat=True)
        )
        unusable = make_password(None)
        User.objects.bulk_create(
            [
                User(username=name, password=unusable)
                for name in names
                if name not in existing
            ],
            batch_size=1000,
        )
        users = User.objects.filter(username__in=names).order_by("username")
        may_open = Permission.objects.get(
            content_type__app_label="chat", codename="add_room"
        )
        Through = User.user_permissions.through
        Through.objects.bulk_create(
            [
                Through(user_id=pk, permission_id=may_open.pk)
                for pk in users.values_list("pk", flat=True)
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        with open(out, "w") as fh:
            for index, user in enumerate(users, 1):
                fh.write(str(AccessToken.for_user(user)) + "\n")
                if index % 1000 == 0:
                    self.stdout.write(f"{index}/{count} tokens")
        self.stdout.write(f"wrote {count} tokens to {out}")
