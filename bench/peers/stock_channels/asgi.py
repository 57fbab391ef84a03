"""ASGI entry point: `uvicorn stock_channels.asgi:application --app-dir bench/peers`."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stock_channels.settings")

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from django.core.asgi import get_asgi_application  # noqa: E402
from django.urls import path  # noqa: E402

django_asgi_app = get_asgi_application()  # sets Django up before importing consumers

from stock_channels.consumers import ChatConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The tutorial wraps this in AllowedHostsOriginValidator, which refuses sockets
        # without an Origin header (the loadgen, like native clients, sends none); it
        # costs once per connect only, so leaving it out changes no figure.
        "websocket": URLRouter([path("ws", ChatConsumer.as_asgi())]),
    }
)
