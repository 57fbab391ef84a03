"""The HTTP endpoints of PROTOCOL.md section 6 (the room and auth parts)."""

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from chat import services
from chat.models import Room, RoomType
from tests.chat.test_protocol_frames import CHAT_DATA

pytestmark = pytest.mark.django_db

PASSWORD = "pw-12345678"  # tests/conftest.py make_user


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def as_alice(api, alice, token_for):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}")
    return api


@pytest.fixture
def rooms(alice, bob):
    """One room of each type, plus bob's private assistant room."""
    made = [
        ("circle-1", RoomType.CULTURAL_CIRCLE, "河洛文化圈", None),
        ("circle-2", RoomType.CULTURAL_CIRCLE, "二", None),
        ("live-1", RoomType.LIVE_STREAM, "直播", None),
        ("chat-1", RoomType.DRAMA_CHAT, "剧", None),
        ("ai-alice", RoomType.AI_ASSISTANT, "Alice 的 AI 助手", alice),
        ("ai-bob", RoomType.AI_ASSISTANT, "Bob 的 AI 助手", bob),
    ]
    return {
        room_id: Room.objects.create(
            room_id=room_id, room_type=room_type, title=title, owner=owner
        )
        for room_id, room_type, title, owner in made
    }


# --- tokens ---------------------------------------------------------------------------


def test_token_obtain_and_refresh(api, alice):
    got = api.post(
        "/api/auth/token/",
        {"username": "alice", "password": PASSWORD},
        format="json",
    )
    assert got.status_code == 200
    assert set(got.json()) == {"access", "refresh"}
    assert AccessToken(got.json()["access"])["user_id"] == str(alice.pk)
    refreshed = api.post(
        "/api/auth/token/refresh/", {"refresh": got.json()["refresh"]}, format="json"
    )
    assert refreshed.status_code == 200
    assert set(refreshed.json()) == {"access"}
    # The refreshed access token works on the API.
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
    assert api.get("/api/rooms/").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"username": "alice", "password": "wrong"},
        {"username": "nobody", "password": PASSWORD},
    ],
)
def test_token_obtain_with_bad_credentials_is_401(api, alice, body):
    got = api.post("/api/auth/token/", body, format="json")
    assert got.status_code == 401
    assert "access" not in got.json()


def test_token_obtain_for_an_inactive_user_is_401(api, alice):
    alice.is_active = False
    alice.save()
    got = api.post(
        "/api/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert got.status_code == 401


def test_sign_in_attempts_are_throttled_per_address(api, alice, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"token": "3/min"})
    body = {"username": "alice", "password": "wrong"}
    codes = [
        api.post("/api/auth/token/", body, format="json").status_code for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    # Refresh shares the budget.
    got = api.post("/api/auth/token/refresh/", {"refresh": "x"}, format="json")
    assert got.status_code == 429


def test_token_obtain_without_fields_is_400(api):
    got = api.post("/api/auth/token/", {}, format="json")
    assert got.status_code == 400
    assert set(got.json()) == {"username", "password"}


def test_refresh_refuses_an_access_token_and_garbage(api, alice, token_for):
    for token in (token_for(alice), "garbage"):
        got = api.post("/api/auth/token/refresh/", {"refresh": token}, format="json")
        assert got.status_code == 401, token


# --- authentication on the API --------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/rooms/", "/api/rooms/circle-1/messages/"], ids=["list", "messages"]
)
def test_the_api_needs_an_access_token(api, alice, rooms, path):
    assert api.get(path).status_code == 401
    for bad in (str(RefreshToken.for_user(alice)), "garbage"):
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {bad}")
        assert api.get(path).status_code == 401, bad


def test_an_access_token_of_a_deleted_user_is_401(api, make_user, token_for):
    gone = make_user("gone")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(gone)}")
    gone.delete()
    assert api.get("/api/rooms/").status_code == 401


# --- rooms ----------------------------------------------------------------------------


def test_room_list_shows_the_rooms_the_user_may_see(as_alice, rooms):
    got = as_alice.get("/api/rooms/")
    assert got.status_code == 200
    listed = {room["roomId"]: room for room in got.json()}
    assert set(listed) == set(rooms) - {"ai-bob"}
    assert listed["ai-alice"] == {
        "roomId": "ai-alice",
        "roomType": "ai_assistant",
        "title": "Alice 的 AI 助手",
        "isClosed": False,
    }


@pytest.mark.parametrize(
    ("room_type", "expected"),
    [
        ("cultural_circle", ["circle-1", "circle-2"]),
        ("live_stream", ["live-1"]),
        ("drama_chat", ["chat-1"]),
        ("ai_assistant", ["ai-alice"]),
    ],
)
def test_room_list_by_type(as_alice, rooms, room_type, expected):
    got = as_alice.get("/api/rooms/", {"type": room_type})
    assert got.status_code == 200
    assert [room["roomId"] for room in got.json()] == expected
    assert {room["roomType"] for room in got.json()} == {room_type}


def test_room_list_with_an_unknown_type_is_400(as_alice, rooms):
    got = as_alice.get("/api/rooms/", {"type": "tv"})
    assert got.status_code == 400
    assert "type" in got.json()


# --- history --------------------------------------------------------------------------


def post_messages(room: Room, user, texts: list[str]) -> list[dict]:
    return [
        services.message_create(room=room, user=user, text=text)[0] for text in texts
    ]


def test_messages_page_like_the_socket_history(as_alice, alice, rooms):
    sent = post_messages(rooms["circle-1"], alice, ["m1", "m2", "m3", "m4", "m5"])
    ids = [m["id"] for m in sent]
    url = "/api/rooms/circle-1/messages/"

    def page(**query):
        got = as_alice.get(url, query)
        assert got.status_code == 200, got.content
        body = got.json()
        assert set(body) == {"roomId", "messages", "hasMore"}
        assert body["roomId"] == "circle-1"
        return [m["id"] for m in body["messages"]], body["hasMore"]

    whole = as_alice.get(url).json()["messages"]
    assert whole == sent
    assert all(CHAT_DATA(m) for m in whole)
    assert page(limit=2) == (ids[3:], True)
    assert page(before=ids[3], limit=2) == (ids[1:3], True)
    assert page(before=ids[1], limit=2) == (ids[:1], False)
    assert page(after=ids[0], limit=2) == (ids[1:3], True)
    assert page(after=ids[2], limit=2) == (ids[3:], False)
    assert page(after=ids[4]) == ([], False)
    assert page(after=ids[0], before=ids[4]) == (ids[1:4], False)


def test_messages_limit_is_capped(as_alice, alice, rooms, settings):
    settings.WS_HISTORY_MAX_LIMIT = 2
    sent = post_messages(rooms["circle-1"], alice, ["a", "b", "c"])
    body = as_alice.get("/api/rooms/circle-1/messages/", {"limit": 50}).json()
    assert body["messages"] == sent[1:] and body["hasMore"] is True


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 0},
        {"limit": "x"},
        {"before": "abc"},
        {"after": "12"},
        {"after": "000000000001-"},
    ],
)
def test_messages_with_a_bad_query_is_400(as_alice, rooms, query):
    got = as_alice.get("/api/rooms/circle-1/messages/", query)
    assert got.status_code == 400
    assert set(got.json()) <= set(query)


def test_a_private_room_is_404_exactly_like_a_missing_one(as_alice, rooms):
    private = as_alice.get("/api/rooms/ai-bob/messages/")
    missing = as_alice.get("/api/rooms/no-such-room/messages/")
    malformed = as_alice.get("/api/rooms/bad%20id/messages/")
    assert private.status_code == missing.status_code == malformed.status_code == 404
    assert private.json() == missing.json() == malformed.json()
    assert as_alice.get("/api/rooms/ai-alice/messages/").status_code == 200


def test_messages_read_costs_three_queries(
    as_alice, alice, rooms, django_assert_num_queries
):
    post_messages(rooms["circle-1"], alice, [f"m{i}" for i in range(30)])
    # The user of the token, the room, the page of messages.
    with django_assert_num_queries(3):
        got = as_alice.get("/api/rooms/circle-1/messages/", {"limit": 20})
    assert len(got.json()["messages"]) == 20


# --- schema and operations ------------------------------------------------------------


def test_openapi_schema(api):
    got = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert got.status_code == 200
    schema = got.json()
    assert schema["openapi"].startswith("3.")
    for path in (
        "/api/auth/token/",
        "/api/auth/token/refresh/",
        "/api/rooms/",
        "/api/rooms/{room_id}/messages/",
        "/api/rooms/{room_id}/",
        "/api/rooms/{room_id}/members/",
        "/api/notifications/",
    ):
        assert path in schema["paths"], path
    # Responses are described, not guessed: the history answer names its fields.
    history = schema["paths"]["/api/rooms/{room_id}/messages/"]["get"]
    ref = history["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
    assert {"roomId", "messages", "hasMore"} <= set(fields)
    assert {p["name"] for p in history["parameters"]} >= {"before", "after", "limit"}


def test_healthz(api):
    got = api.get("/healthz")
    assert got.status_code == 200 and got.json() == {"status": "ok"}
    assert api.post("/healthz").status_code == 405


@pytest.mark.django_db(transaction=True)
def test_readyz_checks_the_database_and_the_channel_layer(api):
    got = api.get("/readyz")
    assert got.status_code == 200
    assert got.json() == {"ready": True, "database": "ok", "channel_layer": "ok"}


@pytest.mark.django_db(transaction=True)
def test_readyz_is_503_when_the_channel_layer_is_down(api, settings):
    # Nothing listens on port 1: the layer cannot answer.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    got = api.get("/readyz")
    assert got.status_code == 503
    body = got.json()
    assert body["ready"] is False and body["database"] == "ok"
    assert body["channel_layer"].startswith("error")


def test_metrics(api):
    got = api.get("/metrics")
    assert got.status_code == 200
    assert got["Content-Type"].startswith("text/plain")
    text = got.content.decode()
    assert "# HELP " in text and "# TYPE " in text
