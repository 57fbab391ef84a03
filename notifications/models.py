"""The notification inbox: personal notifications, announcements, read marks.

An announcement to everyone is ONE `Notification` row with no recipient, not one
row per user: see `notifications.services.announcement_publish` for why.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class NotificationType(models.TextChoices):
    SYSTEM = "system", "系统通知"
    REVIEW = "review", "审核"
    COMMENT = "comment", "评论"
    LIKE = "like", "点赞"
    FOLLOW = "follow", "关注"
    DRAMA = "drama", "短剧"


class Announcement(models.Model):
    """A system announcement a moderator sent from admin, to everyone or to users."""

    class Audience(models.TextChoices):
        EVERYONE = "everyone", "所有用户"
        USERS = "users", "指定用户"

    title = models.CharField(max_length=200)
    content = models.TextField()
    audience = models.CharField(
        max_length=16, choices=Audience.choices, default=Audience.EVERYONE
    )
    recipients = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="+",
        help_text="Only for the audience 'chosen users'.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.title


class Notification(models.Model):
    """One entry of an inbox; with no recipient, an announcement in every inbox."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
        help_text="Empty: an announcement to everyone (read marks in BroadcastRead).",
    )
    type = models.CharField(
        max_length=16, choices=NotificationType.choices, default=NotificationType.SYSTEM
    )
    title = models.CharField(max_length=200)
    content = models.TextField()
    extra = models.JSONField(default=dict, blank=True)
    announcement = models.ForeignKey(
        Announcement,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # Ids grow with time: "newest first" is "-id", and ids are the cursor.
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["recipient", "-id"], name="notif_inbox_idx"),
            models.Index(
                fields=["recipient", "-id"],
                condition=models.Q(read_at__isnull=True),
                name="notif_unread_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pk}: {self.title}"

    @property
    def is_broadcast(self) -> bool:
        return self.recipient_id is None


class BroadcastRead(models.Model):
    """A user has read an announcement to everyone (written when they read it)."""

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="reads"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "notification"], name="uniq_broadcast_read"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.notification_id}"
