"""REST API of rooms and their history; same selectors as the socket."""

from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from chat import protocol, selectors
from chat.exceptions import ClientError
from chat.models import RoomType


class RoomOutSerializer(serializers.Serializer):
    roomId = serializers.CharField(source="room_id")  # noqa: N815 - wire name
    roomType = serializers.CharField(source="room_type")  # noqa: N815
    title = serializers.CharField()
    isClosed = serializers.BooleanField(source="is_closed")  # noqa: N815


class RoomListApi(APIView):
    """GET: rooms the user may see (`?type=<roomType>`)."""

    def get(self, request):
        room_type = request.query_params.get("type")
        if room_type and room_type not in RoomType.values:
            raise ValidationError(
                {"type": f"must be one of {', '.join(RoomType.values)}"}
            )
        rooms = selectors.rooms_for_user(user=request.user, room_type=room_type)[:500]
        return Response(RoomOutSerializer(rooms, many=True).data)


class HistoryQuerySerializer(serializers.Serializer):
    before = serializers.RegexField(protocol.MESSAGE_ID_RE, required=False)
    after = serializers.RegexField(protocol.MESSAGE_ID_RE, required=False)
    limit = serializers.IntegerField(min_value=1, required=False)
    episode = serializers.IntegerField(min_value=0, required=False)
    fromMs = serializers.IntegerField(min_value=0, required=False)  # noqa: N815
    toMs = serializers.IntegerField(min_value=0, required=False)  # noqa: N815


class RoomMessagesApi(APIView):
    """GET: a room's chat history, oldest first, in the shape of `chat.data`."""

    def get(self, request, room_id: str):
        query = HistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        room = _room_or_404(room_id, request.user)
        messages, has_more = selectors.message_history(
            room=room,
            before=q.get("before"),
            after=q.get("after"),
            limit=q.get("limit"),
            episode=q.get("episode"),
            from_ms=q.get("fromMs"),
            to_ms=q.get("toMs"),
        )
        return Response(
            {"roomId": room.room_id, "messages": messages, "hasMore": has_more}
        )


def _room_or_404(room_id: str, user):
    if not protocol.ROOM_ID_RE.match(room_id):
        raise NotFound("room not found")
    try:
        return selectors.room_get_for_user(room_id=room_id, user=user)
    except ClientError as exc:
        raise NotFound(exc.message) from None
