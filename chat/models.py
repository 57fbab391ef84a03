"""Rooms, their chat history, memberships, and the dramas rooms are about."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class RoomType(models.TextChoices):
    DRAMA_CHAT = "drama_chat", "短剧聊天室"
    LIVE_STREAM = "live_stream", "直播间"
    AI_ASSISTANT = "ai_assistant", "AI助手对话"
    CULTURAL_CIRCLE = "cultural_circle", "文化圈"


class MessageType(models.TextChoices):
    TEXT = "text", "text"
    EMOJI = "emoji", "emoji"
    IMAGE = "image", "image"


class Drama(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        PENDING = "pending", "审核中"
        APPROVED = "approved", "已通过"
        REJECTED = "rejected", "已驳回"
        OFFLINE = "offline", "已下线"

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    review_note = models.CharField(
        max_length=500, blank=True, help_text="Reason given to the owner on rejection."
    )
    episode_count = models.PositiveIntegerField(default=0)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dramas"
    )
    updated_at = models.DateTimeField(auto_now=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.title


class Room(models.Model):
    room_id = models.CharField(max_length=64, unique=True)
    room_type = models.CharField(max_length=32, choices=RoomType.choices)
    title = models.CharField(max_length=200, blank=True)
    drama = models.ForeignKey(
        Drama, null=True, blank=True, on_delete=models.CASCADE, related_name="rooms"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="owned_rooms",
    )
    is_closed = models.BooleanField(default=False)
    slow_mode_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Minimum seconds between one user's messages (0: off); "
        "empty: the room type's default. Changes apply within seconds.",
    )
    # Per-room sequence: chat ids sort in the order the room committed them.
    last_seq = models.PositiveBigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["room_id"]
        indexes = [models.Index(fields=["room_type", "room_id"])]

    def __str__(self) -> str:
        return f"{self.room_id} ({self.room_type})"


class RoomMember(models.Model):
    """A user's standing in a room: circle membership and moderation state."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="room_memberships",
    )
    muted_until = models.DateTimeField(null=True, blank=True)
    is_banned = models.BooleanField(default=False)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="uniq_room_member")
        ]
        indexes = [models.Index(fields=["room", "joined_at"], name="member_list_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.room_id}"

    def is_muted(self, now=None) -> bool:
        return bool(self.muted_until and self.muted_until > (now or timezone.now()))


class ChatMessage(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveBigIntegerField()
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="chat_messages",
        help_text="Empty for the AI assistant.",
    )
    sender_name = models.CharField(max_length=150)
    message = models.TextField()
    message_type = models.CharField(
        max_length=16, choices=MessageType.choices, default=MessageType.TEXT
    )
    client_msg_id = models.CharField(max_length=64, null=True, blank=True)
    reply_to = models.CharField(max_length=40, blank=True)
    episode = models.PositiveIntegerField(null=True, blank=True)
    playback_ms = models.PositiveBigIntegerField(null=True, blank=True)
    is_hidden = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["room_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="uniq_room_seq"),
            models.UniqueConstraint(
                fields=["room", "sender", "client_msg_id"],
                condition=models.Q(client_msg_id__isnull=False),
                name="uniq_client_msg_id",
            ),
        ]
        indexes = [
            models.Index(
                fields=["room", "episode", "playback_ms"], name="chat_danmaku_idx"
            ),
            models.Index(fields=["room", "created_at"], name="chat_room_created_idx"),
            # A user's recent messages: the assistant's per-user reply quota.
            models.Index(
                fields=["sender", "created_at"], name="chat_sender_recent_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} in {self.room_id}"

    @property
    def public_id(self) -> str:
        return format_message_id(self.seq, self.pk)


def format_message_id(seq: int, pk: int) -> str:
    """Return the wire id: fixed-width room sequence first, so ids sort as strings."""
    return f"{seq:012d}-{pk}"


def parse_message_id(value: str) -> int | None:
    """Return the room sequence of a wire id, or None when it is not one."""
    head = value.split("-", 1)[0]
    if len(head) != 12 or not head.isdigit() or not head.isascii():
        return None
    return int(head)
