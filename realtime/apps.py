from django.apps import AppConfig
from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save

from realtime import sessions
from realtime.registry import hooks


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Real-time runtime"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        hooks.on_control("close_user")(sessions.close_user)
        hooks.on_control("close_address")(sessions.close_address)
        user_model = get_user_model()
        post_save.connect(
            sessions.user_saved, sender=user_model, dispatch_uid="realtime.user_saved"
        )
        post_delete.connect(
            sessions.user_deleted,
            sender=user_model,
            dispatch_uid="realtime.user_deleted",
        )
