import pytest

from chat.models import Drama, Room, RoomType


@pytest.fixture
def make_drama():
    """Return a factory: make_drama(owner, title=..., status=...) -> (Drama, Room)."""

    def make(owner, *, with_room: bool = True, **fields):
        fields.setdefault("title", "河洛传奇")
        fields.setdefault("status", Drama.Status.PENDING)
        drama = Drama.objects.create(owner=owner, **fields)
        room = None
        if with_room:
            room = Room.objects.create(
                room_id=f"drama-{drama.pk}",
                room_type=RoomType.DRAMA_CHAT,
                drama=drama,
                title=drama.title,
            )
        return drama, room

    return make
