from django.apps import AppConfig
from django.db.models.signals import post_save, pre_save


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from chat.models import Drama
        from notifications import receivers

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
