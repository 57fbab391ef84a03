"""realtime.batching: group commit where one bad item fails only itself."""

import asyncio

import pytest

from realtime.batching import Batcher

pytestmark = pytest.mark.asyncio


class Refuses(Batcher[str, str]):
    """Stores strings; the "database" refuses a whole batch holding "bad"."""

    def __init__(self) -> None:
        super().__init__()
        self.stored: list[str] = []
        self.batches: list[list[str]] = []
        self.published_batches: list[list[str]] = []

    def store(self, items):
        self.batches.append(list(items))
        if "bad" in items:
            raise ValueError("refused")
        self.stored.extend(items)
        return [f"ok:{item}" for item in items]

    def failure(self, exc):
        return LookupError(f"could not store: {exc}")

    async def published(self, items, outcomes):
        self.published_batches.append(list(items))


@pytest.mark.django_db(transaction=True)
async def test_one_bad_item_fails_alone_and_its_neighbours_are_stored():
    batcher = Refuses()
    futures = [batcher.submit(item) for item in ("a", "b", "bad", "c")]
    done = await asyncio.gather(*futures, return_exceptions=True)
    assert done[:2] == ["ok:a", "ok:b"] and done[3] == "ok:c"
    assert isinstance(done[2], LookupError)
    assert batcher.stored == ["a", "b", "c"]  # in the order submitted
    assert batcher.batches[0] == ["a", "b", "bad", "c"]  # tried together first
    assert batcher.published_batches == [["a", "b", "bad", "c"]]


@pytest.mark.django_db(transaction=True)
async def test_what_queues_during_a_batch_goes_in_the_next():
    batcher = Refuses()
    first = batcher.submit("a")
    later = [batcher.submit(item) for item in ("b", "c")]
    assert await first == "ok:a"
    assert await asyncio.gather(*later) == ["ok:b", "ok:c"]
    assert len(batcher.batches) <= 2


class Lingers(Refuses):
    """Waits 50 ms for company when the writer was idle."""

    def linger(self):
        return 0.05


@pytest.mark.django_db(transaction=True)
async def test_an_idle_writer_lingers_so_items_a_moment_apart_share_a_batch():
    """At low load every chat would be its own transaction and layer message;
    the linger lets chats arriving a moment apart share them."""
    batcher = Lingers()
    first = batcher.submit("a")
    await asyncio.sleep(0.01)  # after "a", well inside the linger
    second = batcher.submit("b")
    assert await asyncio.gather(first, second) == ["ok:a", "ok:b"]
    assert batcher.batches == [["a", "b"]]


@pytest.mark.django_db(transaction=True)
async def test_without_a_linger_an_item_alone_is_stored_at_once():
    batcher = Refuses()
    first = batcher.submit("a")
    await asyncio.sleep(0.01)
    second = batcher.submit("b")
    assert await asyncio.gather(first, second) == ["ok:a", "ok:b"]
    assert batcher.batches == [["a"], ["b"]]
