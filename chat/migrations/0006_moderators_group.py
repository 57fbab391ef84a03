"""The Moderators group with exactly the permissions moderation needs (a snapshot
of chat.roles.MODERATOR_PERMISSIONS; tests check the two agree), and the word
list's version row."""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.models import Q

PERMISSIONS = {
    "chat": (
        "view_room", "change_room", "view_chatmessage", "change_chatmessage",
        "view_roommember", "view_sanction", "add_sanction", "change_sanction",
        "view_moderationlog", "view_sensitiveword", "add_sensitiveword",
        "change_sensitiveword", "delete_sensitiveword", "view_drama", "change_drama",
    ),
    "auth": ("view_user",),
    "notifications": ("view_announcement", "add_announcement", "view_notification"),
}


def forwards(apps, schema_editor):
    # Permissions are made after all migrations ran (post_migrate): make them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    q = Q(pk__in=[])
    for app_label, codenames in PERMISSIONS.items():
        q |= Q(content_type__app_label=app_label, codename__in=codenames)
    group, _ = Group.objects.get_or_create(name="Moderators")
    group.permissions.set(Permission.objects.filter(q))
    WordListVersion = apps.get_model("chat", "WordListVersion")
    WordListVersion.objects.get_or_create(pk=1)


def backwards(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Moderators").delete()


class Migration(migrations.Migration):

    dependencies = [
        ("chat", "0005_roommember_drop_moderation_fields"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("notifications", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
