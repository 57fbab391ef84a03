"""The REST inbox: permissions, cursor pagination, read marks, unread count."""

import pytest
from rest_framework.test import APIClient

from notifications import services
from notifications.models import Notification

pytestmark = pytest.mark.django_db

LIST = "/api/notifications/"


@pytest.fixture
def api():
    def client_for(user=None, token=None) -> APIClient:
        client = APIClient()
        if token:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        elif user is not None:
            client.force_authenticate(user)
        return client

    return client_for


def notify(user, title: str) -> Notification:
    return services.notification_create(
        recipient_id=user.pk, type="comment", title=title, content="-"
    )


def test_anonymous_gets_401(api):
    for method, url in [
        ("get", LIST),
        ("get", f"{LIST}unread-count/"),
        ("post", f"{LIST}read-all/"),
        ("post", f"{LIST}1/read/"),
    ]:
        assert getattr(api(), method)(url).status_code == 401, url


def test_the_list_pages_by_cursor_newest_first(api, alice, bob, token_for):
    made = [notify(alice, f"n{i}") for i in range(5)]
    notify(bob, "bob's")
    client = api(token=token_for(alice))

    first = client.get(LIST, {"limit": 2}).json()
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()

    ids = [n["id"] for page in (first, second, third) for n in page["results"]]
    assert ids == [str(n.pk) for n in reversed(made)]
    assert third["next"] is None
    assert "limit=2" in first["next"]
    assert first["results"][0] == {
        "id": str(made[4].pk),
        "type": "comment",
        "title": "n4",
        "content": "-",
        "timestamp": first["results"][0]["timestamp"],
        "read": False,
    }


def test_the_list_merges_announcements_and_filters_unread(api, alice):
    old = notify(alice, "old")
    services.announcement_create(title="公告", content="-")
    new = notify(alice, "new")
    services.notification_mark_read(user=alice, notification_id=str(new.pk))
    client = api(alice)

    everything = client.get(LIST).json()["results"]
    unread = client.get(LIST, {"unread": "1"}).json()["results"]

    assert [n["title"] for n in everything] == ["new", "公告", "old"]
    assert [n["read"] for n in everything] == [True, False, False]
    assert [n["title"] for n in unread] == ["公告", "old"]
    assert unread[-1]["id"] == str(old.pk)


def test_a_page_is_two_queries_whatever_the_inbox(
    api, alice, django_assert_num_queries
):
    for i in range(30):
        notify(alice, f"n{i}")
    services.announcement_create(title="公告", content="-")
    client = api(alice)

    with django_assert_num_queries(2):
        response = client.get(LIST, {"unread": "1", "limit": 10})

    assert len(response.json()["results"]) == 10


def test_bad_query_parameters_are_400(api, alice):
    client = api(alice)
    assert client.get(LIST, {"cursor": "abc"}).status_code == 400
    assert client.get(LIST, {"limit": "0"}).status_code == 400


def test_mark_read_and_unread_count(api, alice):
    first, second = notify(alice, "a"), notify(alice, "b")
    client = api(alice)
    assert client.get(f"{LIST}unread-count/").json() == {
        "unread": 2,
        "latestId": str(second.pk),
    }

    response = client.post(f"{LIST}{first.pk}/read/")

    assert response.status_code == 200
    assert response.json()["id"] == str(first.pk) and response.json()["read"] is True
    assert client.get(f"{LIST}unread-count/").json()["unread"] == 1


def test_read_all_up_to_an_id(api, alice):
    made = [notify(alice, f"n{i}") for i in range(3)]
    services.announcement_create(title="公告", content="-")
    client = api(alice)

    response = client.post(f"{LIST}read-all/", {"upTo": str(made[1].pk)})

    assert response.json() == {"marked": 2}
    assert client.get(f"{LIST}unread-count/").json()["unread"] == 2
    assert client.post(f"{LIST}read-all/").json() == {"marked": 2}
    assert client.get(f"{LIST}unread-count/").json()["unread"] == 0


def test_another_users_notification_is_404_like_a_missing_one(api, alice, bob):
    theirs = notify(bob, "bob's")
    client = api(alice)

    for notification_id in (theirs.pk, 999999, "nope"):
        response = client.post(f"{LIST}{notification_id}/read/")
        assert response.status_code == 404, notification_id
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_an_announcement_from_before_joining_is_404(api, make_user):
    services.announcement_create(title="old", content="-")
    broadcast = Notification.objects.get()
    newcomer = make_user("newcomer")

    response = api(newcomer).post(f"{LIST}{broadcast.pk}/read/")

    assert response.status_code == 404


def test_reading_an_announcement_marks_it_for_that_user_only(api, alice, bob):
    services.announcement_create(title="公告", content="-")
    broadcast = Notification.objects.get()

    api(alice).post(f"{LIST}{broadcast.pk}/read/")

    assert api(alice).get(f"{LIST}unread-count/").json()["unread"] == 0
    assert api(bob).get(f"{LIST}unread-count/").json()["unread"] == 1


def test_the_schema_documents_the_inbox(api, alice):
    schema = api(alice).get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    for path in (
        "/api/notifications/",
        "/api/notifications/{notification_id}/read/",
        "/api/notifications/read-all/",
        "/api/notifications/unread-count/",
    ):
        assert path in paths
