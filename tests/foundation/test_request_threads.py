"""Requests' sync code under ASGI runs on kept threads (mission_control/request_threads.py): one
request at a time per thread, its calls in order on that thread, and a thread whose request left work
running on it is never handed to another request."""

import asyncio
import threading

from asgiref.sync import sync_to_async

from mission_control.request_threads import RequestThreads


def run(scenario):
    """``asyncio.run(scenario())`` on a thread of its own: in the full run an earlier async test may
    leave this thread's event loop running, and asyncio.run refuses to start under it."""
    outcome: dict = {}

    def target():
        try:
            outcome["result"] = asyncio.run(scenario())
        except BaseException as exc:  # re-raised below, in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(30)
    assert outcome, "still running after 30 s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def test_it_runs_a_requests_sync_calls_on_one_thread_and_reuses_it():
    pool = RequestThreads(keep=4)

    async def request() -> set[int]:
        async with pool.context():
            first = await sync_to_async(threading.get_ident)()
            second = await sync_to_async(threading.get_ident)()
        return {first, second}

    async def scenario():
        return [await request() for _ in range(3)]

    seen = run(scenario)
    assert all(len(one) == 1 for one in seen)  # each request's calls on one thread
    assert len(set.union(*seen)) == 1 and pool.started == 1  # and the next request on the same one


def test_requests_at_the_same_time_get_threads_of_their_own():
    pool = RequestThreads(keep=4)
    both_in = threading.Barrier(2, timeout=5)

    async def request() -> int:
        async with pool.context():
            return await sync_to_async(lambda: (both_in.wait(), threading.get_ident())[1])()

    async def scenario():
        return await asyncio.gather(request(), request())

    first, second = run(scenario)
    assert first != second and pool.idle_count() == 2


def test_a_thread_still_busy_with_a_cancelled_request_is_not_reused():
    pool = RequestThreads(keep=4)
    release = threading.Event()

    async def scenario():
        async def request():
            async with pool.context():
                await sync_to_async(release.wait)()

        task = asyncio.create_task(request())
        await asyncio.sleep(0.1)
        task.cancel()  # the client left; the view goes on running on its thread
        await asyncio.gather(task, return_exceptions=True)
        kept = pool.idle_count()
        release.set()
        async with pool.context():
            pass
        return kept, pool.started

    kept, started = run(scenario)
    assert kept == 0 and started == 2


def test_it_keeps_at_most_keep_idle_threads():
    pool = RequestThreads(keep=1)
    both_in = threading.Barrier(2, timeout=5)

    async def request():
        async with pool.context():
            await sync_to_async(both_in.wait)()

    async def scenario():
        await asyncio.gather(request(), request())

    run(scenario)
    assert pool.idle_count() == 1
