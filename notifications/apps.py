from django.apps import AppConfig
from django.db.models.signals import post_save, pre_save

from realtime.registry import hooks


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Models and the modules using them load once the app registry is ready.
        from chat.models import Drama
        from notifications import catchup, receivers

        hooks.on_authenticated(catchup.on_authenticated)
        pre_save.connect(
            receivers.drama_pre_save,
            sender=Drama,
            dispatch_uid="notifications.drama_pre_save",
        )
        post_save.connect(
            receivers.drama_post_save,
            sender=Drama,
            dispatch_uid="notifications.drama_post_save",
        )
