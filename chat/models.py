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
    danmaku_rate = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Live streams: above this many chats a second viewers get a "
        "sample (senders always see their own; all are stored). 0: off; empty: "
        "LIVE_DANMAKU_RATE. Applies at once.",
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
    """A user's membership of a room that keeps them (cultural circles).

    Bans and mutes are `Sanction`s on the user, not fields of this row: most
    rooms keep no members.
    """

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="room_memberships",
    )
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="uniq_room_member")
        ]
        indexes = [models.Index(fields=["room", "joined_at"], name="member_list_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.room_id}"


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
            # Admin's date drill-down (first and last day of a million rows).
            models.Index(fields=["created_at"], name="chat_created_idx"),
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


# --- moderation -------------------------------------------------------------------


class Sanction(models.Model):
    """A ban or mute of a user, in one room or site-wide (`room` empty).

    Active while `ends_at` is empty (permanent) or in the future: it lifts by
    itself, and lifting it early sets `ends_at` to now. Written only through
    `chat.services.moderation`, which pushes its live effect and logs it.
    """

    class Kind(models.TextChoices):
        BAN = "ban", "封禁"
        MUTE = "mute", "禁言"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sanctions"
    )
    room = models.ForeignKey(
        Room,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sanctions",
        help_text="Empty: site-wide.",
    )
    ends_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty: permanent. Past: no longer active."
    )
    reason = models.CharField(max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-pk"]
        indexes = [
            # Every chat batch and join: a user's sanctions, then the room.
            models.Index(fields=["user", "room"], name="sanction_user_room_idx")
        ]

    def __str__(self) -> str:
        where = self.room.room_id if self.room_id else "site-wide"
        return f"{self.kind} of {self.user} ({where})"

    def is_active(self, now=None) -> bool:
        return self.ends_at is None or self.ends_at > (now or timezone.now())


class SensitiveWord(models.Model):
    """A word the content filter blocks or masks, matched as a substring after
    NFKC and case folding (`chat.words`)."""

    class Action(models.TextChoices):
        BLOCK = "block", "拦截（拒收）"
        MASK = "mask", "屏蔽（替换为＊）"

    word = models.CharField(max_length=100)
    # NFKC + casefold of `word`: what is matched, and unique.
    normalized = models.CharField(max_length=200, unique=True, editable=False)
    action = models.CharField(
        max_length=8, choices=Action.choices, default=Action.BLOCK
    )
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["normalized"]

    def __str__(self) -> str:
        return self.word


class WordListVersion(models.Model):
    """One row: bumped by every change to the word list, so each process knows
    when to rebuild its automaton without reading the list per message."""

    version = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"word list v{self.version}"


class ModerationLog(models.Model):
    """One moderation action, by any path (admin, API, command). Read-only."""

    class Action(models.TextChoices):
        MESSAGE_HIDE = "message_hide", "隐藏消息"
        MESSAGE_UNHIDE = "message_unhide", "恢复消息"
        BAN = "ban", "封禁"
        MUTE = "mute", "禁言"
        SANCTION_CHANGE = "sanction_change", "修改处罚"
        SANCTION_LIFT = "sanction_lift", "解除处罚"
        ROOM_CLOSE = "room_close", "关闭房间"
        ROOM_REOPEN = "room_reopen", "重开房间"
        ROOM_SLOW_MODE = "room_slow_mode", "慢速模式"
        ROOM_DANMAKU_RATE = "room_danmaku_rate", "弹幕密度"
        ROOM_DELETE = "room_delete", "删除房间"
        WORD_ADD = "word_add", "添加敏感词"
        WORD_CHANGE = "word_change", "修改敏感词"
        WORD_DELETE = "word_delete", "删除敏感词"

    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept when the account goes; "system" when no user acted (a command).
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=32, choices=Action.choices)
    # What was acted on: a model label ("chat.room") and its primary key.
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    target_repr = models.CharField(max_length=200)
    # Context, for the room's and the user's pages and filters.
    room = models.ForeignKey(
        Room, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="moderation_entries",
        help_text="The user concerned: sanctioned, or whose message it was.",
    )
    reason = models.CharField(max_length=500, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="modlog_target_idx"),
            models.Index(fields=["created_at"], name="modlog_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_name}: {self.action} {self.target_repr}"
