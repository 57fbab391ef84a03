"""Operational endpoints: liveness, readiness, metrics, and the web chat page."""

import asyncio

from channels.layers import get_channel_layer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


async def _layer_ok() -> bool:
    layer = get_channel_layer()
    channel = await layer.new_channel("readyz.")
    await layer.send(channel, {"type": "readyz.ping"})
    return (await asyncio.wait_for(layer.receive(channel), 2))["type"] == "readyz.ping"


@require_GET
async def readyz(request):
    """Return 200 when the database and the channel layer both answer."""
    checks = {}
    try:
        await asyncio.to_thread(_db_ok)
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        await _layer_ok()
        checks["channel_layer"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["channel_layer"] = f"error: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse({"ready": ready, **checks}, status=200 if ready else 503)


def _db_ok() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    connection.close()


@require_GET
def metrics(request):
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


class TokenObtainView(TokenObtainPairView):
    """POST username/password → access + refresh; throttled per client address."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"


class TokenRefreshThrottledView(TokenRefreshView):
    """POST refresh → access; throttled like sign-in."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"
