"""Long-poll claims served by the ASGI handler (daphne, the Procfile's ``web``) wait on the event
loop, not in a thread: woken by new work, no query while nothing arrives, one execution once."""

import asyncio
import gc
import json
import threading
import weakref

import pytest
from asgiref.testing import ApplicationCommunicator
from django.db import close_old_connections
from django.db.backends.utils import CursorWrapper

from agents.services import issue_key
from executions import claim_wakeups
from executions.dispatch import ClaimWait
from executions.services import start_execution
from mission_control import long_poll
from mission_control.asgi_handler import PoolSafeASGIHandler
from mission_control.request_threads import threads

pytestmark = pytest.mark.django_db(transaction=True)


def run_on_own_loop(scenario):
    """Run ``scenario()`` on a fresh event loop in a thread of its own, as daphne runs its loop."""
    out: list = []

    def run() -> None:
        try:
            out.append(asyncio.run(scenario()))
        except BaseException as exc:  # handed to the test's thread
            out.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    assert out, "the scenario did not finish"
    if isinstance(out[0], BaseException):
        raise out[0]
    return out[0]


async def claim(app, key: str, wait_s: float, body: bytes | None = None) -> ApplicationCommunicator:
    body = json.dumps({"wait_seconds": wait_s}).encode() if body is None else body
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/agent/executions/claim",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {key}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    communicator = ApplicationCommunicator(app, scope)
    await communicator.send_input({"type": "http.request", "body": body})
    return communicator


async def answer(communicator: ApplicationCommunicator, timeout: float = 10) -> tuple[int, bytes]:
    start = await communicator.receive_output(timeout)
    body = await communicator.receive_output(timeout)
    await communicator.wait(timeout)  # the pass ends (request_finished) before the scenario goes on
    return start["status"], body.get("body", b"")


@pytest.fixture
def parked(monkeypatch):
    """The claims now waiting on the event loop (their request's thread has returned). Claims wait
    there while the wake-up channel is up (with Redis: once the listener is connected)."""
    if claim_wakeups.listener.ensure_started() is False:
        assert claim_wakeups.listener.connected.wait(5)
    waits: list[ClaimWait] = []
    real = ClaimWait.wait

    async def wait(self) -> bool:
        waits.append(self)
        return await real(self)

    monkeypatch.setattr(ClaimWait, "wait", wait)
    return waits


async def waiting(parked: list, count: int) -> None:
    for _ in range(1000):
        if len(parked) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(parked)} claims waiting on the loop, not {count}")


def queue(agent):
    try:
        return start_execution(agent=agent, trigger="manual").pk
    finally:
        close_old_connections()


@pytest.fixture
def key(pull_agent):
    return issue_key(agent=pull_agent)[1]


@pytest.fixture
def queries(monkeypatch):
    """SQL statements run by any thread (the handler's passes run on threads of their own)."""
    seen: list[str] = []
    real = CursorWrapper._execute

    def counted(self, sql, *args, **kwargs):
        seen.append(sql)
        return real(self, sql, *args, **kwargs)

    monkeypatch.setattr(CursorWrapper, "_execute", counted)
    return seen


def test_it_wakes_a_waiting_claim_with_the_new_work(pull_agent, key, parked):
    async def scenario():
        app = PoolSafeASGIHandler()
        communicator = await claim(app, key, 20)
        await waiting(parked, 1)
        queued = await asyncio.to_thread(queue, pull_agent)
        status, body = await answer(communicator)
        return queued, status, json.loads(body)

    queued, status, body = run_on_own_loop(scenario)
    assert status == 200 and body["id"] == queued and body["status"] == "running"


def test_a_waiting_claim_costs_no_query_while_nothing_arrives(key, queries, parked):
    async def scenario():
        app = PoolSafeASGIHandler()
        status, _ = await answer(await claim(app, key, 0))  # warms the key cache
        assert status == 204
        before = len(queries)
        assert (await answer(await claim(app, key, 0)))[0] == 204
        no_wait = len(queries) - before
        before = len(queries)
        communicator = await claim(app, key, 0.6)
        await waiting(parked, 1)
        looked = len(queries) - before
        await asyncio.sleep(0.4)  # waiting: nothing arrives
        during = len(queries) - before - looked
        status, _ = await answer(communicator)
        return no_wait, looked, during, len(queries) - before, status

    no_wait, looked, during, waited, status = run_on_own_loop(scenario)
    assert status == 204
    assert during == 0  # no query while waiting...
    assert waited == looked == no_wait  # ...and none at the deadline either: the first look is all


def test_two_waiting_claims_of_one_agent_get_one_execution_once(pull_agent, key, parked):
    async def scenario():
        app = PoolSafeASGIHandler()
        first, second = await claim(app, key, 1.5), await claim(app, key, 1.5)
        await waiting(parked, 2)
        queued = await asyncio.to_thread(queue, pull_agent)
        answers = await asyncio.gather(answer(first), answer(second))
        return queued, answers

    queued, answers = run_on_own_loop(scenario)
    assert sorted(status for status, _ in answers) == [200, 204]
    assert [json.loads(body)["id"] for status, body in answers if status == 200] == [queued]
    assert claim_wakeups.bells.count() == 0  # both bells released


@pytest.fixture
def requests_made(monkeypatch):
    """Weak references to every request the handler builds (one per pass through Django)."""
    made: list[weakref.ref] = []
    real = PoolSafeASGIHandler.create_request

    def create_request(self, scope, body_file):
        request, error = real(self, scope, body_file)
        if request is not None:
            made.append(weakref.ref(request))
        return request, error

    monkeypatch.setattr(PoolSafeASGIHandler, "create_request", create_request)
    return made


def test_a_waiting_claim_keeps_no_request_nor_thread(pull_agent, key, parked, requests_made):
    async def scenario():
        app = PoolSafeASGIHandler()
        idle = threads.idle_count()
        communicator = await claim(app, key, 20)
        await waiting(parked, 1)
        gc.collect()
        alive = [ref for ref in requests_made if ref() is not None]
        # The pass's thread is back among the idle ones, free for any other request.
        during = len(alive), threads.idle_count() - idle, claim_wakeups.bells.count()
        queued = await asyncio.to_thread(queue, pull_agent)
        status, body = await answer(communicator)
        return during, len(requests_made), queued, status, json.loads(body)

    (alive, idle, bells), passes, queued, status, body = run_on_own_loop(scenario)
    assert alive == 0 and idle >= 0 and bells == 1  # only the bell is left while it waits
    assert passes == 2  # looked, then looked again when the work rang
    assert status == 200 and body["id"] == queued


def test_requests_reuse_their_threads(key):
    async def scenario():
        app = PoolSafeASGIHandler()
        await answer(await claim(app, key, 0))
        started = threads.started
        for _ in range(5):
            assert (await answer(await claim(app, key, 0)))[0] == 204
        return threads.started - started

    assert run_on_own_loop(scenario) == 0  # one after the other: the same kept thread each time


def test_a_claim_whose_client_leaves_while_waiting_releases_its_bell(key, parked):
    async def scenario():
        app = PoolSafeASGIHandler()
        communicator = await claim(app, key, 20)
        await waiting(parked, 1)
        held = claim_wakeups.bells.count()
        await communicator.send_input({"type": "http.disconnect"})
        await communicator.wait(5)  # the application returns: nothing is sent to nobody
        return held, claim_wakeups.bells.count()

    assert run_on_own_loop(scenario) == (1, 0)


def test_a_claim_with_a_body_too_large_to_keep_is_refused_as_any_request(key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64

    async def scenario():
        app = PoolSafeASGIHandler()
        body = json.dumps({"wait_seconds": 5, "padding": "x" * 100}).encode()
        return await answer(await claim(app, key, 5, body=body))

    status, _ = run_on_own_loop(scenario)
    assert status == 413  # as any request of that size (a middleware maps RequestDataTooBig), no wait


def test_only_requests_for_long_polling_views_are_served_as_long_polls(settings):
    def scope(path: str, length: int = 20) -> dict:
        return {"type": "http", "path": path, "headers": [(b"content-length", str(length).encode())]}

    assert long_poll.is_long_poll(scope("/api/v1/agent/executions/claim"))
    assert long_poll.is_long_poll(scope("/api/v1/agent/executions/claim/"))
    assert not long_poll.is_long_poll(scope("/api/v1/agent/heartbeat"))
    assert not long_poll.is_long_poll(scope("/no/such/page"))
    assert not long_poll.is_long_poll({"type": "websocket", "path": "/api/v1/agent/executions/claim"})
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    assert not long_poll.is_long_poll(scope("/api/v1/agent/executions/claim"))
