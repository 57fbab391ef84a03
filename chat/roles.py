"""Roles: the `Moderators` group and exactly the permissions moderation needs.

The group is made by a data migration (chat/migrations/0006_moderators_group.py,
a snapshot of this list); `moderators_group()` brings it back to this list, for
`seed_demo` and for tests whose database was flushed.
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

MODERATORS = "Moderators"

# app label -> codenames. Hide a message (change_chatmessage), ban and mute
# (add/change_sanction; lifting is a change), close, reopen and slow mode
# (change_room), the word list, the log (view only), users (view: autocomplete
# and their sanctions), drama review and announcements (notifications admin).
MODERATOR_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "chat": (
        "view_room",
        "change_room",
        "view_chatmessage",
        "change_chatmessage",
        "view_roommember",
        "view_sanction",
        "add_sanction",
        "change_sanction",
        "view_moderationlog",
        "view_sensitiveword",
        "add_sensitiveword",
        "change_sensitiveword",
        "delete_sensitiveword",
        "view_drama",
        "change_drama",
    ),
    "auth": ("view_user",),
    "notifications": ("view_announcement", "add_announcement", "view_notification"),
}


def moderator_permissions_q() -> Q:
    """Return the filter of `Permission` rows the Moderators group holds."""
    q = Q(pk__in=[])
    for app_label, codenames in MODERATOR_PERMISSIONS.items():
        q |= Q(content_type__app_label=app_label, codename__in=codenames)
    return q


def moderators_group() -> Group:
    """Return the Moderators group, its permissions set to exactly the list."""
    group, _ = Group.objects.get_or_create(name=MODERATORS)
    group.permissions.set(Permission.objects.filter(moderator_permissions_q()))
    return group
