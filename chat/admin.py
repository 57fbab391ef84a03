"""Moderation in Django admin. Actions call the same services as the API, so their
effects (message removed, user kicked, room closed) reach connected clients live."""

from django.contrib import admin, messages

from chat import services
from chat.models import ChatMessage, Drama, Room, RoomMember


@admin.register(Drama)
class DramaAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "status", "owner", "updated_at")
    list_filter = ("status",)
    search_fields = ("title",)
    raw_id_fields = ("owner",)


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    """Circles and live streams are made here too; the owner of a live stream is
    its host (not slowed down). Slow mode: empty = the type's default, 0 = off."""

    list_display = (
        "room_id",
        "room_type",
        "title",
        "owner",
        "is_closed",
        "slow_mode_seconds",
    )
    list_editable = ("slow_mode_seconds",)
    list_filter = ("room_type", "is_closed")
    list_select_related = ("owner",)
    search_fields = ("room_id", "title")
    raw_id_fields = ("owner", "drama")
    actions = ["close_rooms"]

    @admin.action(description="Close the selected rooms (members are told at once)")
    def close_rooms(self, request, queryset):
        for room in queryset:
            services.room_close(room=room)
        self.message_user(
            request, f"Closed {queryset.count()} room(s).", messages.SUCCESS
        )


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = (
        "public_id",
        "room",
        "sender_name",
        "message",
        "created_at",
        "is_hidden",
    )
    list_filter = ("is_hidden", "room__room_type")
    search_fields = ("message", "sender_name", "room__room_id")
    raw_id_fields = ("room", "sender")
    list_select_related = ("room",)
    actions = ["hide_messages"]

    @admin.action(description="Remove the selected messages (deleted live for viewers)")
    def hide_messages(self, request, queryset):
        for message in queryset.select_related("room"):
            services.message_hide(message=message)
        self.message_user(
            request, f"Removed {queryset.count()} message(s).", messages.SUCCESS
        )


@admin.register(RoomMember)
class RoomMemberAdmin(admin.ModelAdmin):
    list_display = ("room", "user", "muted_until", "is_banned", "joined_at")
    list_filter = ("is_banned",)
    search_fields = ("room__room_id", "user__username")
    raw_id_fields = ("room", "user")
    actions = ["ban_members", "mute_members_10_minutes"]

    @admin.action(description="Ban from the room (their sockets are closed with 4003)")
    def ban_members(self, request, queryset):
        for member in queryset.select_related("room", "user"):
            services.member_ban(room=member.room, user=member.user)
        self.message_user(
            request, f"Banned {queryset.count()} member(s).", messages.SUCCESS
        )

    @admin.action(description="Mute for 10 minutes")
    def mute_members_10_minutes(self, request, queryset):
        for member in queryset.select_related("room", "user"):
            services.member_mute(room=member.room, user=member.user, minutes=10)
        self.message_user(
            request, f"Muted {queryset.count()} member(s).", messages.SUCCESS
        )
