"""Moderation in Django admin. Every write (actions, change forms, list edits,
deletes) calls the same services as the other paths, so it reaches connected
clients live and leaves a `ModerationLog` row; what users wrote is read-only.

Lists are made for a million rows: newest first by primary key, typed filters
instead of lists of every room or user, counts capped (`chat.admin_filters`).
"""

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.urls import path, reverse
from django.utils.html import format_html

from chat import admin_moderation, admin_views, services
from chat.admin_lists import (
    BigListAdmin,
    CappedPaginator,
    RoomFilter,
    SenderFilter,
    UserFilter,
    history_html,
    preview,
    target_history,
)
from chat.models import ChatMessage, Drama, ModerationLog, Room, RoomMember, Sanction

# Sanctions, words, the log and users: registered by importing it.
__all__ = ["admin_moderation"]


# --- rooms and messages ------------------------------------------------------------


@admin.register(Drama)
class DramaAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "status", "owner", "updated_at")
    list_filter = ("status",)
    list_select_related = ("owner",)
    search_fields = ("title",)
    autocomplete_fields = ("owner",)


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    """Circles and live streams are made here too; the owner of a live stream is
    its host (not slowed down). Slow mode: empty = the type's default, 0 = off.
    Danmaku rate (live streams): above it viewers get a sample; empty =
    LIVE_DANMAKU_RATE, 0 = off. Closing, reopening, slow mode and the danmaku
    rate go through the services from every path."""

    list_display = (
        "room_id",
        "room_type",
        "title",
        "owner",
        "is_closed",
        "slow_mode_seconds",
        "danmaku_rate",
        "live",
    )
    list_editable = ("slow_mode_seconds", "danmaku_rate")
    list_filter = ("room_type", "is_closed")
    list_select_related = ("owner",)
    search_fields = ("room_id", "title")
    autocomplete_fields = ("owner", "drama")
    readonly_fields = ("last_seq", "created_at", "live", "moderation_history")
    actions = ["close_rooms", "reopen_rooms"]
    show_full_result_count = False
    paginator = CappedPaginator

    # Fields whose change is a moderation action: written by their services.
    MODERATED = ("is_closed", "slow_mode_seconds", "danmaku_rate")

    def get_urls(self):
        live = self.admin_site.admin_view(self.live_view)
        return [
            path("<path:object_id>/live/", live, name="chat_room_live"),
            *super().get_urls(),
        ]

    def live_view(self, request, object_id):
        return admin_views.room_live_view(self, request, object_id)

    @admin.display(description="live")
    def live(self, obj: Room) -> str:
        if obj.pk is None:
            return "—"
        url = reverse("admin:chat_room_live", args=[obj.pk])
        return format_html("<a href='{}'>live view</a>", url)

    @admin.display(description="moderation log")
    def moderation_history(self, obj: Room):
        if obj.pk is None:
            return "—"
        return history_html(ModerationLog.objects.filter(room=obj), room=obj.room_id)

    def save_model(self, request, obj: Room, form, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        others = [f for f in form.changed_data if f not in self.MODERATED]
        if others:
            obj.save(update_fields=others)
        if "slow_mode_seconds" in form.changed_data:
            services.room_slow_mode_set(
                room=obj, seconds=obj.slow_mode_seconds, actor=request.user
            )
        if "danmaku_rate" in form.changed_data:
            services.room_danmaku_rate_set(
                room=obj, rate=obj.danmaku_rate, actor=request.user
            )
        if "is_closed" in form.changed_data:
            if obj.is_closed:
                services.room_close(room=obj, actor=request.user)
            else:
                services.room_reopen(room=obj, actor=request.user)

    def delete_model(self, request, obj: Room) -> None:
        services.room_delete(room=obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for room in queryset:
            services.room_delete(room=room, actor=request.user)

    @admin.action(
        description="Close the selected rooms (members are told at once)",
        permissions=["change"],
    )
    def close_rooms(self, request, queryset):
        if admin_views.too_many(self, request, queryset):
            return
        done = sum(services.room_close(room=r, actor=request.user) for r in queryset)
        self.message_user(request, f"Closed {done} room(s).", messages.SUCCESS)

    @admin.action(description="Reopen the selected rooms", permissions=["change"])
    def reopen_rooms(self, request, queryset):
        if admin_views.too_many(self, request, queryset):
            return
        done = sum(services.room_reopen(room=r, actor=request.user) for r in queryset)
        self.message_user(request, f"Reopened {done} room(s).", messages.SUCCESS)


@admin.register(ChatMessage)
class ChatMessageAdmin(BigListAdmin):
    """Users' messages: text, sender and sequence are read-only; removing one
    hides it (live), there is no hard delete here."""

    list_display = (
        "public_id",
        "created_at",
        "room_link",
        "sender_link",
        "text",
        "is_hidden",
    )
    list_display_links = ("public_id",)
    list_filter = ("room__room_type", RoomFilter, SenderFilter, "is_hidden")
    date_hierarchy = "created_at"
    search_fields = ("message",)
    list_select_related = ("room",)
    fields = (
        "room",
        "seq",
        "sender",
        "sender_name",
        "message",
        "message_type",
        "client_msg_id",
        "reply_to",
        "episode",
        "playback_ms",
        "created_at",
        "is_hidden",
        "moderation_history",
    )
    readonly_fields = tuple(f for f in fields if f != "is_hidden")
    actions = ["hide_messages", "unhide_messages", "mute_senders", "ban_senders"]

    @admin.display(description="room")
    def room_link(self, obj: ChatMessage) -> str:
        return format_html(
            "<a href='?{}'>{}</a>", urlencode({"room": obj.room.room_id}), obj.room
        )

    @admin.display(description="sender")
    def sender_link(self, obj: ChatMessage) -> str:
        if obj.sender_id is None:
            return obj.sender_name
        query = urlencode({"sender": obj.sender_id})
        return format_html("<a href='?{}'>{}</a>", query, obj.sender_name)

    @admin.display(description="message")
    def text(self, obj: ChatMessage) -> str:
        return preview(obj.message)

    @admin.display(description="moderation log")
    def moderation_history(self, obj: ChatMessage):
        return target_history(obj)

    def has_add_permission(self, request) -> bool:
        return False  # users write messages, not moderators

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # hide instead: the room is told, history keeps the row

    def has_sanction_permission(self, request) -> bool:
        return request.user.has_perm("chat.add_sanction")

    def save_model(self, request, obj: ChatMessage, form, change: bool) -> None:
        if "is_hidden" not in form.changed_data:
            return
        if obj.is_hidden:
            services.message_hide(message=obj, actor=request.user)
        else:
            services.message_unhide(message=obj, actor=request.user)

    @admin.action(
        description="Hide the selected messages (removed live for viewers)",
        permissions=["change"],
    )
    def hide_messages(self, request, queryset):
        if admin_views.too_many(self, request, queryset):
            return
        done = sum(
            services.message_hide(message=m, actor=request.user)
            for m in queryset.select_related("room", "sender")
        )
        self.message_user(request, f"Hid {done} message(s).", messages.SUCCESS)

    @admin.action(
        description="Show the selected messages again", permissions=["change"]
    )
    def unhide_messages(self, request, queryset):
        if admin_views.too_many(self, request, queryset):
            return
        done = sum(
            services.message_unhide(message=m, actor=request.user)
            for m in queryset.select_related("room", "sender")
        )
        self.message_user(request, f"Unhid {done} message(s).", messages.SUCCESS)

    @admin.action(
        description="Mute the senders (choose how long and why)",
        permissions=["sanction"],
    )
    def mute_senders(self, request, queryset):
        return admin_views.senders_sanction_action(
            self, request, queryset, Sanction.Kind.MUTE
        )

    @admin.action(
        description="Ban the senders (closes their sockets; choose how long and why)",
        permissions=["sanction"],
    )
    def ban_senders(self, request, queryset):
        return admin_views.senders_sanction_action(
            self, request, queryset, Sanction.Kind.BAN
        )


@admin.register(RoomMember)
class RoomMemberAdmin(BigListAdmin):
    """Members of the rooms that keep them (circles); made by joining. Sanction
    users from their messages or under Sanctions."""

    list_display = ("room", "user", "joined_at")
    list_filter = (RoomFilter, UserFilter)
    list_select_related = ("room", "user")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
