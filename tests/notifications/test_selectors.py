"""Inbox reads cost a fixed number of queries whatever the inbox holds."""

import pytest

from django.utils import timezone

from notifications import selectors, services
from notifications.models import BroadcastRead, Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_inbox(alice, bob):
    for i in range(40):
        services.notification_create(
            recipient_id=alice.pk, type="like", title=f"n{i}", content="-"
        )
        services.notification_create(
            recipient_id=bob.pk, type="like", title=f"b{i}", content="-"
        )
    for i in range(5):
        services.announcement_create(title=f"a{i}", content="-")


def test_summary_is_one_query(alice, busy_inbox, django_assert_num_queries):
    with django_assert_num_queries(1):
        summary = selectors.notification_summary(user=alice)
    assert summary == {
        "unread": 45,
        "latestId": str(Notification.objects.latest("pk").pk),
    }


def test_summary_counts_what_each_stream_left_unread(alice, bob, busy_inbox):
    """Read marks of one user do not count for another; a personal row read is
    not unread; announcements from before the user joined are not theirs."""
    first_mine = Notification.objects.filter(recipient=alice).earliest("pk")
    first_mine.read_at = timezone.now()
    first_mine.save()
    announcement = Notification.objects.filter(recipient=None).earliest("pk")
    BroadcastRead.objects.create(user=bob, notification=announcement)
    BroadcastRead.objects.create(user=alice, notification=announcement)
    assert selectors.notification_summary(user=alice)["unread"] == 39 + 4
    assert selectors.notification_summary(user=bob)["unread"] == 40 + 4
    alice.date_joined = timezone.now() + timezone.timedelta(seconds=1)
    summary = selectors.notification_summary(user=alice)
    latest_mine = Notification.objects.filter(recipient=alice).latest("pk").pk
    assert summary == {"unread": 39, "latestId": str(latest_mine)}


def test_catch_up_is_two_queries(alice, busy_inbox, django_assert_num_queries):
    with django_assert_num_queries(2):
        items, has_more = selectors.notifications_after(
            user=alice, after_id=0, limit=10
        )
    assert len(items) == 10 and has_more
    ids = [int(n["id"]) for n in items]
    assert ids == sorted(ids)
    assert {n["title"][0] for n in items} == {"n"}  # alice's, never bob's


def test_pages_cover_the_inbox_exactly_once(alice, busy_inbox):
    seen, cursor = [], None
    while True:
        page, cursor = selectors.notification_page(
            user=alice, before=cursor, limit=7, unread_only=False
        )
        seen += [n["id"] for n in page]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 45
    assert [int(i) for i in seen] == sorted((int(i) for i in seen), reverse=True)
