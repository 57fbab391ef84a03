"""Inbox reads cost a fixed number of queries whatever the inbox holds."""

import pytest

from notifications import selectors, services

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


def test_summary_is_two_queries(alice, busy_inbox, django_assert_num_queries):
    with django_assert_num_queries(2):
        summary = selectors.notification_summary(user=alice)
    assert summary["unread"] == 45


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
