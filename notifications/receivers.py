"""Signal receivers: thin, each calls a service (connected in `NotificationsConfig`).

Every save of a Drama goes through them, whether from admin, the ORM or an API;
`QuerySet.update()` sends no signals and so pushes nothing.
"""

from notifications import services


def drama_pre_save(sender, instance, raw: bool = False, update_fields=None, **kwargs):
    if not raw:
        services.drama_track_changes(drama=instance, update_fields=update_fields)


def drama_post_save(sender, instance, raw: bool = False, **kwargs):
    if not raw:
        services.drama_saved(drama=instance)
