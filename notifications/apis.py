"""REST inbox: list (cursor pagination), mark read, unread count.

Same selectors as the socket; another user's notification answers 404, exactly
like one that does not exist.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from django.conf import settings

from notifications import selectors, services
from notifications.exceptions import NotificationNotFound


class NotificationOutSerializer(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField()
    title = serializers.CharField()
    content = serializers.CharField()
    timestamp = serializers.CharField(help_text="ISO 8601, UTC, with Z")
    read = serializers.BooleanField()
    extra = serializers.DictField(required=False)


class NotificationPageSerializer(serializers.Serializer):
    results = NotificationOutSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="URL of the next page")


class SummarySerializer(serializers.Serializer):
    unread = serializers.IntegerField()
    latestId = serializers.CharField(allow_null=True)  # noqa: N815 - wire name


class ListQuerySerializer(serializers.Serializer):
    unread = serializers.BooleanField(required=False, default=False)
    cursor = serializers.RegexField(r"^[0-9]{1,18}$", required=False)
    limit = serializers.IntegerField(min_value=1, required=False)


class ReadAllInSerializer(serializers.Serializer):
    upTo = serializers.RegexField(  # noqa: N815 - wire name
        r"^[0-9]{1,18}$",
        required=False,
        help_text="Mark only notifications up to this id (the newest one shown).",
    )


class ReadAllOutSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many were unread")


class NotificationListApi(APIView):
    """GET: the user's notifications, newest first (`?unread=1&cursor=&limit=`)."""

    @extend_schema(
        parameters=[ListQuerySerializer], responses=NotificationPageSerializer
    )
    def get(self, request):
        query = ListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        limit = min(
            q.get("limit") or settings.NOTIFICATIONS_PAGE_SIZE,
            settings.NOTIFICATIONS_MAX_PAGE_SIZE,
        )
        results, cursor = selectors.notification_page(
            user=request.user,
            before=int(q["cursor"]) if "cursor" in q else None,
            limit=limit,
            unread_only=q["unread"],
        )
        next_url = None
        if cursor is not None:
            params = request.query_params.copy()
            params["cursor"] = str(cursor)
            next_url = request.build_absolute_uri(
                f"{request.path}?{params.urlencode()}"
            )
        return Response({"results": results, "next": next_url})


class NotificationReadApi(APIView):
    """POST: mark one notification read."""

    @extend_schema(request=None, responses=NotificationOutSerializer)
    def post(self, request, notification_id: str):
        try:
            notification = services.notification_mark_read(
                user=request.user, notification_id=notification_id
            )
        except NotificationNotFound as exc:
            raise NotFound(exc.message) from None
        return Response(selectors.notification_data(notification))


class NotificationReadAllApi(APIView):
    """POST: mark every notification read (up to `upTo` when given)."""

    @extend_schema(request=ReadAllInSerializer, responses=ReadAllOutSerializer)
    def post(self, request):
        body = ReadAllInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        up_to = body.validated_data.get("upTo")
        marked = services.notifications_mark_all_read(
            user=request.user, up_to=int(up_to) if up_to else None
        )
        return Response({"marked": marked})


class NotificationUnreadCountApi(APIView):
    """GET: {"unread", "latestId"}, the same as the socket's notification_summary."""

    @extend_schema(responses=SummarySerializer)
    def get(self, request):
        return Response(selectors.notification_summary(user=request.user))
