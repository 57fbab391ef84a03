"""The moderators' lists: newest first, truncated, filtered without listing every
room or user, a fixed number of queries however many rows; what a moderator may
and may not do."""

import pytest

from django.contrib.auth.models import Group
from django.utils import timezone

from chat import services
from chat.models import ChatMessage, ModerationLog, Room, RoomType, Sanction
from chat.roles import MODERATOR_PERMISSIONS, MODERATORS

pytestmark = pytest.mark.django_db

# Each changelist page costs this many queries, whatever the row count: session,
# user, the moderator's permissions (own, group's), the count (capped), the
# page; with date_hierarchy one MIN/MAX (never a DISTINCT over every row).
# Pinned so that a query per row shows at once.
CHANGELIST_QUERIES = {
    "/admin/chat/chatmessage/": 7,
    "/admin/chat/room/": 6,
    "/admin/chat/sanction/": 7,
    "/admin/chat/moderationlog/": 7,
    "/admin/chat/sensitiveword/": 6,
    "/admin/chat/roommember/": 6,
}


@pytest.fixture
def rooms(alice):
    return [
        Room.objects.create(
            room_id=f"room-{i}", room_type=RoomType.CULTURAL_CIRCLE, owner=alice
        )
        for i in range(3)
    ]


@pytest.fixture
def many_rows(rooms, alice, bob, carol, moderator):
    """Messages, sanctions, log rows and words spread over rooms and users."""
    users = [alice, bob, carol]
    for i in range(60):
        services.message_create(
            room=rooms[i % 3], user=users[i % 3], text=f"消息 {i} " + "长" * 200
        )
    for user in users:
        services.sanction_apply(
            user=user, room=rooms[0], kind="mute", reason="r", actor=moderator
        )
    services.words_add(items=[(f"词{i}", "mask") for i in range(30)])
    for room in rooms:
        services.room_close(room=room, actor=moderator)
        for user in users:
            services.room_member_add(room=room, user=user)


@pytest.mark.parametrize("url", CHANGELIST_QUERIES)
def test_each_changelist_costs_a_fixed_number_of_queries(
    url, many_rows, admin_web, django_assert_num_queries
):
    with django_assert_num_queries(CHANGELIST_QUERIES[url]):
        response = admin_web.get(url)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) > 0


def test_messages_list_newest_first_truncated(many_rows, admin_web, settings):
    response = admin_web.get("/admin/chat/chatmessage/")
    rows = list(response.context["cl"].result_list)
    assert [m.pk for m in rows] == sorted((m.pk for m in rows), reverse=True)
    assert rows[0].message.startswith("消息 59")
    body = response.content.decode()
    assert "长" * 200 not in body
    assert "长" * (settings.ADMIN_TEXT_PREVIEW_CHARS - 10) in body
    # The date drill-down and the typed filters are on the page.
    assert '<nav class="toplinks">' in body  # the date drill-down
    today = timezone.localtime()
    assert f"created_at__day={today.day}" in body
    assert 'name="room"' in body and 'name="sender"' in body


def test_messages_filter_by_room_sender_type_hidden_and_date(
    many_rows, rooms, bob, admin_web
):
    def ids(**query):
        found = admin_web.get("/admin/chat/chatmessage/", query).context["cl"]
        return {m.pk for m in found.result_list}

    in_room = set(
        ChatMessage.objects.filter(room=rooms[1]).values_list("pk", flat=True)
    )
    by_bob = set(ChatMessage.objects.filter(sender=bob).values_list("pk", flat=True))
    assert ids(room="room-1") == in_room
    assert ids(sender="bob") == by_bob == ids(sender=str(bob.pk))
    assert ids(room="room-1", sender="bob") == in_room & by_bob
    assert ids(room__room_type__exact="live_stream") == set()
    first = ChatMessage.objects.order_by("pk").first()
    services.message_hide(message=first)
    assert ids(is_hidden__exact="1") == {first.pk}
    today = timezone.now()
    assert len(ids(created_at__year=today.year, created_at__month=today.month)) == 50


def test_the_count_is_capped_on_big_lists(many_rows, admin_web, settings):
    settings.ADMIN_COUNT_LIMIT = 20
    cl = admin_web.get("/admin/chat/chatmessage/").context["cl"]
    assert cl.result_count == 20
    assert ChatMessage.objects.count() == 60


def test_the_moderation_log_filters_by_action_user_room_and_target(
    many_rows, rooms, bob, admin_web
):
    def actions(**query):
        found = admin_web.get("/admin/chat/moderationlog/", query).context["cl"]
        return sorted(e.action for e in found.result_list)

    assert actions(action__exact="room_close") == ["room_close"] * 3
    assert actions(user="bob") == ["mute"]
    assert actions(room="room-0") == ["mute", "mute", "mute", "room_close"]
    assert actions(actor="mod", action__exact="mute") == ["mute"] * 3
    target = f"chat.room:{rooms[2].pk}"
    assert actions(target=target) == ["room_close"]


def test_the_log_is_shown_on_its_targets_pages(many_rows, rooms, bob, admin_web):
    room_page = admin_web.get(f"/admin/chat/room/{rooms[0].pk}/change/")
    assert "关闭房间" in room_page.content.decode()
    assert "/admin/chat/moderationlog/?room=room-0" in room_page.content.decode()
    user_page = admin_web.get(f"/admin/auth/user/{bob.pk}/change/").content.decode()
    assert "禁言" in user_page and f"moderationlog/?user={bob.pk}" in user_page
    sanction = Sanction.objects.get(user=bob)
    page = admin_web.get(f"/admin/chat/sanction/{sanction.pk}/change/")
    assert f"target=chat.sanction%3A{sanction.pk}" in page.content.decode()


def test_messages_cannot_be_added_rewritten_or_deleted(
    many_rows, admin_web, django_user_model
):
    message = ChatMessage.objects.order_by("pk").first()
    url = f"/admin/chat/chatmessage/{message.pk}/change/"
    form = admin_web.get(url).context["adminform"].form
    assert list(form.fields) == ["is_hidden"]
    admin_web.post(url, {"message": "rewritten", "sender": "1", "seq": "99"})
    message.refresh_from_db()
    assert (message.message, message.seq) != ("rewritten", 99)
    assert admin_web.get("/admin/chat/chatmessage/add/").status_code == 403
    assert (
        admin_web.get(f"/admin/chat/chatmessage/{message.pk}/delete/").status_code
        == 403
    )
    actions = admin_web.get("/admin/chat/chatmessage/").context["action_form"]
    names = [name for name, _ in actions.fields["action"].choices]
    assert "delete_selected" not in names
    assert {"hide_messages", "mute_senders", "ban_senders"} <= set(names)
    response = admin_web.post(
        "/admin/chat/chatmessage/",
        {"action": "delete_selected", "_selected_action": [message.pk]},
    )
    assert ChatMessage.objects.filter(pk=message.pk).exists()
    assert response.status_code in (200, 302)


def test_the_log_is_read_only(many_rows, admin_web):
    entry = ModerationLog.objects.first()
    url = f"/admin/chat/moderationlog/{entry.pk}/"
    assert admin_web.get(url + "change/").status_code == 200  # view only
    assert admin_web.post(url + "change/", {"reason": "x"}).status_code == 403
    assert admin_web.post(url + "delete/", {"post": "yes"}).status_code == 403
    assert admin_web.get("/admin/chat/moderationlog/add/").status_code == 403
    assert ModerationLog.objects.get(pk=entry.pk).reason == entry.reason


def test_sanctions_are_lifted_not_deleted(many_rows, admin_web, bob):
    sanction = Sanction.objects.get(user=bob)
    url = f"/admin/chat/sanction/{sanction.pk}/delete/"
    assert admin_web.post(url, {"post": "yes"}).status_code == 403
    assert Sanction.objects.filter(pk=sanction.pk).exists()


def test_the_migration_made_the_moderators_group_with_exactly_the_list():
    """The data migration's snapshot agrees with chat.roles (non-transactional
    tests run first: the migrated rows are still there)."""
    group = Group.objects.get(name=MODERATORS)
    held = {
        (p.content_type.app_label, p.codename)
        for p in group.permissions.select_related("content_type")
    }
    assert held == {
        (app, codename)
        for app, codenames in MODERATOR_PERMISSIONS.items()
        for codename in codenames
    }


def test_a_moderator_is_staff_without_deletes(moderator):
    assert moderator.is_staff and not moderator.is_superuser
    assert moderator.has_perm("chat.change_chatmessage")
    assert moderator.has_perm("chat.add_sanction")
    for perm in ("chat.delete_chatmessage", "chat.delete_room", "chat.add_chatmessage"):
        assert not moderator.has_perm(perm)
