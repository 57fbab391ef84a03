"""ASGI entry point: HTTP through Django, sockets through the runtime's
`SocketEntry`, and the lifespan that stops the runtime on shutdown."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yyc3_realtime.settings")
# Set up Django (apps, settings) before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from realtime.entry import SocketEntry  # noqa: E402
from realtime.lifespan import lifespan  # noqa: E402
from yyc3_realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Origin check, JWT and routing in one step: see realtime/entry.py.
        "websocket": SocketEntry(websocket_urlpatterns),
        "lifespan": lifespan,
    }
)
