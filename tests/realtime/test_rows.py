"""`model_rows` gives what `Model.objects.raw(...)` gives for the same SQL."""

import pytest

from django.core.exceptions import FieldDoesNotExist

from chat.models import Room, RoomType
from realtime.rows import model_rows

pytestmark = pytest.mark.django_db


def fields_of(instance) -> dict:
    return {
        f.attname: getattr(instance, f.attname)
        for f in type(instance)._meta.concrete_fields
        if f.attname in instance.__dict__
    }


@pytest.fixture
def rooms(alice):
    Room.objects.create(room_id="rows-1", room_type=RoomType.LIVE_STREAM, owner=alice)
    Room.objects.create(room_id="rows-2", room_type=RoomType.CULTURAL_CIRCLE)


@pytest.mark.usefixtures("rooms")
def test_rows_match_raw_converters_extra_columns_and_order_included():
    """Datetimes (converted on SQLite), booleans, foreign keys, and a column
    that is not a field (set as an attribute) come out as raw() has them."""
    table = Room._meta.db_table
    sql = (
        f"SELECT *, room_id = %s AS picked FROM {table}"
        " WHERE room_id LIKE %s ORDER BY room_id DESC"
    )
    params = ["rows-1", "rows-%"]
    ours, theirs = model_rows(Room, sql, params), list(Room.objects.raw(sql, params))
    assert [fields_of(r) for r in ours] == [fields_of(r) for r in theirs]
    assert [bool(r.picked) for r in ours] == [False, True]
    assert all(not r._state.adding and r._state.db == "default" for r in ours)
    assert ours[0].created_at.tzinfo is not None


@pytest.mark.usefixtures("rooms")
def test_some_columns_leave_the_rest_deferred():
    table = Room._meta.db_table
    (room,) = model_rows(
        Room,
        f"SELECT id, room_id FROM {table} WHERE id > 0 AND room_id = %s",
        ["rows-2"],
    )
    assert room.get_deferred_fields() >= {"title", "created_at"}
    assert room.room_id == "rows-2"


@pytest.mark.usefixtures("rooms")
def test_no_primary_key_is_refused_as_raw_refuses_it():
    with pytest.raises(FieldDoesNotExist):
        model_rows(Room, f"SELECT room_id FROM {Room._meta.db_table}", [])


def test_no_rows():
    assert model_rows(Room, f"SELECT * FROM {Room._meta.db_table}", []) == []
