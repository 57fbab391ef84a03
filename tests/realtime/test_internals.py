"""realtime.internals: what the runtime needs of uvicorn and channels-redis is
checked once, with an error naming the pinned version."""

import pytest
from uvicorn.protocols.websockets.websockets_sansio_impl import (
    WebSocketsSansIOProtocol,
)

from django.core.exceptions import ImproperlyConfigured

from realtime import internals


def test_the_pinned_packages_have_everything_used():
    internals.check_uvicorn()
    internals.check_channels_redis()


def test_a_renamed_attribute_is_an_error_naming_the_pinned_version(monkeypatch):
    class Renamed(WebSocketsSansIOProtocol):
        send_receive_event_to_app = None  # as if an upgrade renamed it

    with pytest.raises(ImproperlyConfigured) as raised:
        internals._require(
            "uvicorn",
            Renamed,
            internals.UvicornWebSocketProtocol,
            "realtime.wsprotocol",
        )
    message = str(raised.value)
    assert "uvicorn==0.54.0" in message
    assert "send_receive_event_to_app" in message


def test_an_attribute_only_assigned_in_the_source_counts():
    class Assigns:
        def __init__(self) -> None:
            self.queue: list = []

    class Lacks:
        def __init__(self) -> None:
            self.queued = []

    class Needs:
        queue: list

    assert internals.missing_members(Assigns, Needs) == []
    assert internals.missing_members(Lacks, Needs) == ["queue"]
