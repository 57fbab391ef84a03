"""realtime.dbthread: the cheap hop lands where asgiref's would."""

import asyncio
import threading

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from realtime import dbthread

# The hop closes the thread's stale connections, as database_sync_to_async does.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.asyncio
async def test_the_hop_runs_in_the_thread_of_database_sync_to_async():
    """Same thread, so the same Django connections (and transactions)."""
    ours = await dbthread.run(threading.get_ident)
    theirs = await database_sync_to_async(threading.get_ident)()
    assert ours == theirs != threading.get_ident()


@pytest.mark.asyncio
async def test_async_to_sync_inside_reaches_the_callers_loop():
    """A publish after commit (`realtime.pushes`) runs on the caller's loop,
    where the process's runtime lives."""

    async def which_loop():
        return asyncio.get_running_loop()

    got = await dbthread.run(async_to_sync(which_loop))
    assert got is asyncio.get_running_loop()


def test_under_a_sync_parent_it_runs_where_asgiref_would():
    """Under async_to_sync, thread-sensitive code runs in the sync parent's
    thread: the hop leaves the choice to asgiref."""
    assert async_to_sync(dbthread.run)(threading.get_ident) == threading.get_ident()


@pytest.mark.asyncio
async def test_an_exception_reaches_the_caller():
    def refuse():
        raise LookupError("no")

    with pytest.raises(LookupError):
        await dbthread.run(refuse)
