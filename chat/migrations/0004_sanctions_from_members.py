"""Bans and mutes move from RoomMember rows to Sanctions (one per room and user)."""

from django.db import migrations
from django.utils import timezone

REASON = "moved from the room's member list"


def forwards(apps, schema_editor):
    RoomMember = apps.get_model("chat", "RoomMember")
    Sanction = apps.get_model("chat", "Sanction")
    now = timezone.now()
    moved = []
    for member in RoomMember.objects.filter(is_banned=True).iterator():
        moved.append(
            Sanction(kind="ban", user_id=member.user_id, room_id=member.room_id,
                     ends_at=None, reason=REASON, created_at=now)
        )
    for member in RoomMember.objects.filter(muted_until__gt=now).iterator():
        moved.append(
            Sanction(kind="mute", user_id=member.user_id, room_id=member.room_id,
                     ends_at=member.muted_until, reason=REASON, created_at=now)
        )
    Sanction.objects.bulk_create(moved, batch_size=1000)


def backwards(apps, schema_editor):
    RoomMember = apps.get_model("chat", "RoomMember")
    Sanction = apps.get_model("chat", "Sanction")
    now = timezone.now()
    active = Sanction.objects.filter(room__isnull=False).exclude(ends_at__lte=now)
    for sanction in active.iterator():
        member, _ = RoomMember.objects.get_or_create(
            room_id=sanction.room_id, user_id=sanction.user_id
        )
        if sanction.kind == "ban":
            member.is_banned = True
        else:
            member.muted_until = sanction.ends_at or now.replace(year=9999)
        member.save()


class Migration(migrations.Migration):

    dependencies = [("chat", "0003_moderation")]

    operations = [migrations.RunPython(forwards, backwards)]
