"""Delete chat history past its room type's retention window (live_stream danmaku).

History reads already hide expired messages; this frees the rows. Run it from
cron or a systemd timer, e.g. hourly: `python manage.py purge_danmaku`.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from chat import selectors, services
from chat.models import ChatMessage


class Command(BaseCommand):
    help = (
        "Delete messages older than ROOM_HISTORY_RETENTION_HOURS of their room type "
        "(live_stream: LIVE_STREAM_DANMAKU_RETENTION_HOURS), in batches."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument(
            "--dry-run", action="store_true", help="Count, delete nothing."
        )

    def handle(self, *args, batch_size: int, dry_run: bool, **options) -> None:
        now = timezone.now()
        total = 0
        for room_type, hours in settings.ROOM_HISTORY_RETENTION_HOURS.items():
            cutoff = selectors.history_cutoff(room_type)
            if cutoff is None:
                continue
            expired = ChatMessage.objects.filter(
                room__room_type=room_type, created_at__lt=cutoff
            ).count()
            self.stdout.write(
                f"{room_type}: {expired} message(s) older than {hours:g} h "
                f"(before {cutoff:%Y-%m-%d %H:%M:%S}Z)"
            )
            if dry_run or not expired:
                continue
            done = 0
            while deleted := services.messages_expired_purge(
                room_type=room_type, older_than=cutoff, batch_size=batch_size
            ):
                done += deleted
                self.stdout.write(f"  deleted {done}/{expired}")
            total += done
        if dry_run:
            self.stdout.write(self.style.SUCCESS("Dry run: nothing deleted."))
            return
        elapsed = (timezone.now() - now).total_seconds()
        self.stdout.write(
            self.style.SUCCESS(f"Done: deleted {total} message(s) in {elapsed:.1f}s.")
        )
