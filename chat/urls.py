from django.urls import path

from chat import apis

urlpatterns = [
    path("rooms/", apis.RoomListApi.as_view(), name="room-list"),
    path("rooms/<str:room_id>/", apis.RoomDetailApi.as_view(), name="room-detail"),
    path(
        "rooms/<str:room_id>/members/",
        apis.RoomMembersApi.as_view(),
        name="room-members",
    ),
    path(
        "rooms/<str:room_id>/messages/",
        apis.RoomMessagesApi.as_view(),
        name="room-messages",
    ),
]
