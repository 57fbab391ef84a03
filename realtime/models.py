"""The runtime's one table: temporary bans the abuse score hands out."""

from django.db import models
from django.utils import timezone


class TemporaryBan(models.Model):
    """A client address or a user refused on every process until `expires_at`."""

    class Kind(models.TextChoices):
        ADDRESS = "address", "address"
        USER = "user", "user"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    # The client address, or the user's id.
    value = models.CharField(max_length=64)
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["expires_at"], name="ban_expires_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.value} until {self.expires_at:%Y-%m-%d %H:%M:%S}"

    @property
    def active(self) -> bool:
        return self.expires_at > timezone.now()
