"""No HTTP views: the peer only serves the WebSocket route (see asgi.py)."""

urlpatterns: list = []
