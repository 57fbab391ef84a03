"""Announcements from Django admin, and a moderator's view of notifications.

Adding an announcement sends it (through `services.announcement_publish`, the
same service the shell and tests use); a sent announcement is read-only.
"""

from django import forms
from django.contrib import admin, messages

from notifications import services
from notifications.models import Announcement, Notification


class AnnouncementForm(forms.ModelForm):
    class Meta:
        model = Announcement
        fields = ("title", "content", "audience", "recipients")

    def clean(self) -> dict:
        data = super().clean()
        recipients = data.get("recipients")
        audience = data.get("audience")
        if audience == Announcement.Audience.USERS and not recipients:
            self.add_error("recipients", "Choose at least one user.")
        if audience == Announcement.Audience.EVERYONE and recipients:
            self.add_error("recipients", "Leave empty when sending to everyone.")
        return data


@admin.register(Announcement)
class AnnouncementAdmin(admin.ModelAdmin):
    form = AnnouncementForm
    list_display = ("id", "title", "audience", "created_by", "created_at")
    list_filter = ("audience",)
    search_fields = ("title", "content")
    # Autocomplete, not a select of every user: the user table can be huge.
    autocomplete_fields = ("recipients",)

    def has_change_permission(self, request, obj=None) -> bool:
        # Sent is sent: editing would leave inboxes and pushes disagreeing.
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        if not change:
            # The admin view's transaction commits after this: pushes follow it.
            services.announcement_publish(announcement=form.instance)
            self.message_user(
                request, f"Sent “{form.instance.title}”.", messages.SUCCESS
            )


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """View only: notifications are made by services (which push them), never by
    hand; a moderator writes to users with an announcement."""

    list_display = ("id", "recipient", "type", "title", "created_at", "read_at")
    list_filter = ("type",)
    search_fields = ("title", "recipient__username")
    raw_id_fields = ("recipient", "announcement")
    list_select_related = ("recipient",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
