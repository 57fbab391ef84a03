from django.apps import AppConfig

from realtime.registry import hooks


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat rooms"

    def ready(self) -> None:
        # The consumers load models: import them once the app registry is ready.
        from chat import delivery, density
        from chat.consumers import base

        hooks.on_control("kick")(base.kick)
        hooks.on_control("room_closed")(base.room_closed)
        hooks.on_control("danmaku_rate")(density.rate_changed)
        hooks.on_authenticated(base.refuse_site_banned)
        hooks.set_sequence_source(delivery.RoomSequences())
