"""REST API of rooms and their history; the same selectors, services and room
rules as the socket."""

from asgiref.sync import async_to_sync
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from django.conf import settings

from chat import frames, protocol, selectors, services
from chat.exceptions import ClientError
from chat.models import Room, RoomType
from chat.room_types import RULES


class RoomOutSerializer(serializers.Serializer):
    roomId = serializers.CharField(source="room_id")  # noqa: N815 - wire name
    roomType = serializers.CharField(source="room_type")  # noqa: N815
    title = serializers.CharField()
    isClosed = serializers.BooleanField(source="is_closed")  # noqa: N815


class RoomDetailOutSerializer(RoomOutSerializer):
    onlineCount = serializers.IntegerField()  # noqa: N815
    slowModeSeconds = serializers.FloatField(allow_null=True)  # noqa: N815
    ownerId = serializers.CharField(allow_null=True)  # noqa: N815
    dramaId = serializers.CharField(allow_null=True)  # noqa: N815


_SERIALIZER_FIELDS = {str: serializers.CharField, int: serializers.IntegerField}

# The shape of `chat.data`, from the one declaration of it (chat.frames).
ChatDataSerializer = type(
    "ChatDataSerializer",
    (serializers.Serializer,),
    {
        name: _SERIALIZER_FIELDS[kind](required=always)
        for name, (kind, always) in frames.CHAT_DATA_FIELDS.items()
    },
)


class HistoryOutSerializer(serializers.Serializer):
    roomId = serializers.CharField()  # noqa: N815
    messages = ChatDataSerializer(many=True)
    hasMore = serializers.BooleanField()  # noqa: N815


class MemberSerializer(serializers.Serializer):
    userId = serializers.CharField()  # noqa: N815
    userName = serializers.CharField()  # noqa: N815
    joinedAt = serializers.CharField()  # noqa: N815


class MembersOutSerializer(serializers.Serializer):
    roomId = serializers.CharField()  # noqa: N815
    count = serializers.IntegerField()
    members = MemberSerializer(many=True)


# The largest `limit`/`offset` taken: past it a 400, never a database error.
PAGE_MAX = 2**31 - 1


class RoomListQuerySerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=RoomType.values, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=PAGE_MAX, required=False)
    offset = serializers.IntegerField(
        min_value=0, max_value=PAGE_MAX, required=False, default=0
    )


class RoomCreateSerializer(serializers.Serializer):
    roomType = serializers.ChoiceField(choices=RoomType.values)  # noqa: N815
    roomId = serializers.RegexField(protocol.ROOM_ID_RE, required=False)  # noqa: N815
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)


class RoomListApi(APIView):
    """GET: rooms the user may see (`?type=<roomType>&limit=&offset=`), a page
    of at most ROOMS_MAX_PAGE_SIZE; the total is in `X-Total-Count` and the next
    page in a `Link: <...>; rel="next"` header. POST: create a room.

    POST `{"roomType", "roomId"?, "title"?}`: an ai_assistant room for oneself
    (anyone; its id is chosen by the server), a cultural_circle or live_stream
    (staff or `chat.add_room`); the creator owns it. drama_chat rooms open on
    first join of `drama-<pk>`. Without `roomId` the server makes one up. 201
    with the room, as GET one.
    """

    @extend_schema(
        operation_id="rooms_list",
        parameters=[
            OpenApiParameter("type", str, enum=RoomType.values),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=RoomOutSerializer(many=True),
    )
    def get(self, request):
        query = RoomListQuerySerializer(data=request.query_params)
        if not query.is_valid():
            if "type" in query.errors:
                raise ValidationError(
                    {"type": f"must be one of {', '.join(RoomType.values)}"}
                )
            raise ValidationError(query.errors)
        q = query.validated_data
        limit = min(
            q.get("limit") or settings.ROOMS_PAGE_SIZE, settings.ROOMS_MAX_PAGE_SIZE
        )
        rooms = selectors.rooms_for_user(user=request.user, room_type=q.get("type"))
        total = rooms.count()
        page = rooms[q["offset"] : q["offset"] + limit]
        response = Response(RoomOutSerializer(page, many=True).data)
        response["X-Total-Count"] = str(total)
        if q["offset"] + limit < total:
            params = request.query_params.copy()
            params["offset"], params["limit"] = str(q["offset"] + limit), str(limit)
            next_url = request.build_absolute_uri(f"?{params.urlencode()}")
            response["Link"] = f'<{next_url}>; rel="next"'
        return response

    @extend_schema(
        operation_id="rooms_create",
        request=RoomCreateSerializer,
        responses={201: RoomDetailOutSerializer},
    )
    def post(self, request):
        body = RoomCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        room_type = body.validated_data["roomType"]
        rules = RULES[room_type]
        try:
            room = services.room_create(
                user=request.user,
                room_type=room_type,
                room_id=body.validated_data.get("roomId"),
                title=body.validated_data.get("title", ""),
                create=rules.create_via_api,
                record_membership=rules.record_membership,
            )
        except ClientError as exc:
            raise _api_error(exc) from None
        return Response(_room_detail(room), status=status.HTTP_201_CREATED)


class RoomDetailApi(APIView):
    """GET: one room: type, title, onlineCount (users in it now, on every process)."""

    @extend_schema(operation_id="rooms_detail", responses=RoomDetailOutSerializer)
    def get(self, request, room_id: str):
        return Response(_room_detail(_room_or_404(room_id, request.user)))


class MembersQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=PAGE_MAX, required=False)
    offset = serializers.IntegerField(
        min_value=0, max_value=PAGE_MAX, required=False, default=0
    )


class RoomMembersApi(APIView):
    """GET: the members of a room that keeps them (cultural circles), oldest first.

    `?limit=&offset=`; `{"roomId", "count", "members": [{userId, userName, joinedAt}]}`.
    """

    @extend_schema(parameters=[MembersQuerySerializer], responses=MembersOutSerializer)
    def get(self, request, room_id: str):
        query = MembersQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        room = _room_or_404(room_id, request.user)
        if not RULES[room.room_type].record_membership:
            raise NotFound(f"{room.room_type} rooms keep no member list")
        members, count = selectors.room_members(
            room=room,
            limit=query.validated_data.get("limit"),
            offset=query.validated_data["offset"],
        )
        return Response({"roomId": room.room_id, "count": count, "members": members})


class HistoryQuerySerializer(serializers.Serializer):
    before = serializers.RegexField(protocol.MESSAGE_ID_RE, required=False)
    after = serializers.RegexField(protocol.MESSAGE_ID_RE, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=PAGE_MAX, required=False)
    episode = serializers.IntegerField(
        min_value=0, max_value=protocol.EPISODE_MAX, required=False
    )
    fromMs = serializers.IntegerField(  # noqa: N815
        min_value=0, max_value=protocol.JSON_INT_MAX, required=False
    )
    toMs = serializers.IntegerField(  # noqa: N815
        min_value=0, max_value=protocol.JSON_INT_MAX, required=False
    )

    def validate(self, attrs: dict) -> dict:
        if ("fromMs" in attrs or "toMs" in attrs) and "episode" not in attrs:
            raise ValidationError({"episode": "'fromMs'/'toMs' need 'episode'"})
        return attrs


class RoomMessagesApi(APIView):
    """GET: a room's chat history, oldest first, in the shape of `chat.data`."""

    @extend_schema(parameters=[HistoryQuerySerializer], responses=HistoryOutSerializer)
    def get(self, request, room_id: str):
        query = HistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        room = _room_or_404(room_id, request.user)
        try:
            messages, has_more = selectors.message_history(
                room=room,
                before=q.get("before"),
                after=q.get("after"),
                limit=q.get("limit"),
                episode=q.get("episode"),
                from_ms=q.get("fromMs"),
                to_ms=q.get("toMs"),
            )
        except ClientError as exc:
            raise _api_error(exc) from None
        return Response(
            {"roomId": room.room_id, "messages": messages, "hasMore": has_more}
        )


def _room_detail(room: Room) -> dict:
    # A sync view runs in a worker thread of the ASGI server: async_to_sync hands
    # the read to the server's event loop, whose presence store the sockets use.
    online = async_to_sync(selectors.room_online_count)(room_pk=room.pk)
    slow_mode = RULES[room.room_type].effective_slow_mode(room.slow_mode_seconds)
    return selectors.room_detail_data(room, online_count=online, slow_mode=slow_mode)


def _api_error(exc: ClientError) -> APIException:
    error = APIException(exc.message, exc.code)
    error.status_code = exc.http_status
    return error


def _room_or_404(room_id: str, user):
    if not protocol.ROOM_ID_RE.match(room_id):
        raise NotFound("room not found")
    try:
        return selectors.room_get_for_user(room_id=room_id, user=user)
    except ClientError as exc:
        raise NotFound(exc.message) from None
