"""Temporary bans in admin: listed with reason and expiry, read-only, lifted
with an action that calls the same service as everything else (`ban_lift`)."""

from django.contrib import admin, messages

from realtime.bans import ban_lift
from realtime.models import TemporaryBan


@admin.register(TemporaryBan)
class TemporaryBanAdmin(admin.ModelAdmin):
    list_display = ("kind", "value", "reason", "created_at", "expires_at", "active")
    list_filter = ("kind",)
    search_fields = ("value", "reason")
    ordering = ("-created_at",)
    actions = ["lift"]

    @admin.display(boolean=True)
    def active(self, obj: TemporaryBan) -> bool:
        return obj.active

    @admin.action(description="Lift the selected bans now")
    def lift(self, request, queryset) -> None:
        lifted = ban_lift(bans=queryset)
        self.message_user(request, f"Lifted {lifted} ban(s).", messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        # Bans come from the abuse score (realtime.abuse), with their reason.
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # Listed and lifted, never edited: the action keeps the history.
        return obj is None and super().has_change_permission(request, obj)
