"""Operational endpoints: liveness, readiness, metrics, and the web chat page."""

import asyncio
import hmac

from channels.layers import get_channel_layer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.views.decorators.http import require_GET

from realtime.abuse import RATE_LIMITED
from realtime.address import in_networks, request_address
from realtime.ratelimit import hit_sync


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


def metrics_allowed(request) -> bool:
    """Return whether the request may read /metrics: a client address in
    METRICS_ALLOWED_ADDRESSES, or the METRICS_TOKEN as a bearer token."""
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    return in_networks(request_address(request), settings.METRICS_ALLOWED_ADDRESSES)


@require_GET
def metrics(request):
    if not metrics_allowed(request):
        return HttpResponseForbidden("metrics are private")
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


class SharedScopedThrottle(ScopedRateThrottle):
    """DRF's scoped throttle on counters every process shares
    (`realtime.ratelimit`), keyed by the client address (`realtime.address`),
    and with a view's `throttle_username_field` also by the attempted username
    (AUTH_TOKEN_USERNAME_RATE)."""

    def allow_request(self, request, view) -> bool:
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        if self.num_requests is None or self.duration is None:
            return True
        allowed = hit_sync(
            f"throttle:{self.scope}",
            request_address(request),
            self.num_requests,
            self.duration,
        )
        field = getattr(view, "throttle_username_field", None)
        if allowed and field:
            allowed = self._allow_username(request, field)
        if not allowed:
            RATE_LIMITED.labels(self.scope).inc()
        return allowed

    def _allow_username(self, request, field: str) -> bool:
        username = request.data.get(field) if hasattr(request.data, "get") else None
        if not isinstance(username, str) or not username:
            return True
        amount, seconds = self.parse_rate(settings.AUTH_TOKEN_USERNAME_RATE)
        if amount is None or seconds is None:
            return True
        return hit_sync(
            f"throttle:{self.scope}:user", username.lower()[:150], amount, seconds
        )

    def wait(self) -> float | None:
        return self.duration


class TokenObtainView(TokenObtainPairView):
    """POST username/password → access + refresh; throttled per client address
    and per attempted username, over every process."""

    throttle_classes = [SharedScopedThrottle]
    throttle_scope = "token"
    throttle_username_field = "username"


class TokenRefreshThrottledView(TokenRefreshView):
    """POST refresh → access; throttled like sign-in (per client address)."""

    throttle_classes = [SharedScopedThrottle]
    throttle_scope = "token"
