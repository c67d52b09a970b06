import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from governance.services import issue_operator_token
from mission_control import layer_send
from mission_control.asgi import application
from mission_control.events import publish
from mission_control.models import AppendOnlyError, Event


@pytest.mark.django_db
def test_it_refuses_to_change_or_delete_events(business):
    event = publish(kind="x.happened", business=business, message="hi")
    event.message = "changed"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        Event.objects.all().delete()


@pytest.mark.django_db
def test_it_lists_events_scoped_to_the_callers_businesses(viewer_api, business, other_business):
    publish(kind="a.b", business=business, message="mine")
    publish(kind="a.b", business=other_business, message="theirs")
    messages = [e["message"] for e in viewer_api.get("/api/v1/events").json()["results"]]
    assert messages == ["mine"]


@pytest.mark.django_db
def test_it_filters_events_by_kind_and_catches_up_after_an_id(viewer_api, business):
    first = publish(kind="agent.started", business=business)
    publish(kind="agent.stopped", business=business)
    publish(kind="agent.started", business=business)
    body = viewer_api.get(f"/api/v1/events?kind=agent.started&after={first.pk}").json()
    assert [e["kind"] for e in body["results"]] == ["agent.started"]
    assert body["results"][0]["id"] > first.pk


@pytest.mark.django_db
def test_it_answers_404_for_a_business_the_caller_cannot_see(viewer_api, other_business):
    assert viewer_api.get("/api/v1/events?business=globex").status_code == 404


@pytest.mark.django_db
def test_it_refuses_a_non_numeric_after(viewer_api):
    response = viewer_api.get("/api/v1/events?after=abc")
    assert response.status_code == 400
    assert response.json()["fields"] == {"after": ["A valid integer is required."]}


async def _connect(path):
    communicator = WebsocketCommunicator(application, path, headers=[(b"host", b"localhost")])
    connected, code = await communicator.connect()
    return communicator, connected, code


async def _publish(**kwargs):
    # publish() hands the event to the layer after commit; run it in its own transaction.
    from django.db import transaction

    def go():
        with transaction.atomic():
            return publish(**kwargs)

    return await sync_to_async(go)()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_publish_reaches_a_websocket_with_a_token(make_member, business):
    user = await sync_to_async(make_member)("viewer", business)
    _, raw = await sync_to_async(issue_operator_token)(user=user)
    communicator, connected, _ = await _connect(f"/ws/events/?token={raw}")
    assert connected
    await _publish(kind="execution.started", business=business, message="go", execution_id=7)
    message = await communicator.receive_json_from(timeout=3)
    assert message["kind"] == "execution.started"
    assert message["business"] == "acme"
    assert message["execution"] == 7
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_websocket_filters_kinds_and_other_businesses(make_member, business, other_business):
    user = await sync_to_async(make_member)("viewer", business)
    _, raw = await sync_to_async(issue_operator_token)(user=user)
    communicator, connected, _ = await _connect(f"/ws/events/?token={raw}&kinds=cron.triggered")
    assert connected
    await _publish(kind="execution.started", business=business)
    await _publish(kind="cron.triggered", business=other_business)
    await _publish(kind="cron.triggered", business=business, message="ours")
    message = await communicator.receive_json_from(timeout=3)
    assert message["message"] == "ours"
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_websocket_replays_what_was_missed(make_member, business):
    user = await sync_to_async(make_member)("viewer", business)
    _, raw = await sync_to_async(issue_operator_token)(user=user)
    seen = await _publish(kind="a.one", business=business)
    await _publish(kind="a.two", business=business)
    communicator, connected, _ = await _connect(f"/ws/events/?token={raw}&after={seen.pk}")
    assert connected
    assert (await communicator.receive_json_from(timeout=3))["kind"] == "a.two"
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_websocket_refuses_strangers(business):
    communicator, connected, _ = await _connect("/ws/events/")
    assert connected  # accepted, then closed: browsers can read a close code, not a refused handshake
    assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_websocket_hides_other_businesses(make_member, business, other_business):
    user = await sync_to_async(make_member)("viewer", business)
    _, raw = await sync_to_async(issue_operator_token)(user=user)
    communicator, connected, _ = await _connect(f"/ws/events/?token={raw}&business=globex")
    assert connected
    assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": 4404}


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_publish_reaches_a_websocket_through_channels_redis(make_member, business, settings):
    from django.conf import settings as live

    layers = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {**live.CHANNEL_LAYERS["default"]["CONFIG"], "prefix": "mc-test"},
        }
    }
    with override_settings(CHANNEL_LAYERS=layers):
        from channels.layers import channel_layers

        channel_layers.backends.clear()
        assert type(get_channel_layer()).__name__ == "RedisChannelLayer"
        user = await sync_to_async(make_member)("viewer", business)
        _, raw = await sync_to_async(issue_operator_token)(user=user)
        communicator, connected, _ = await _connect(f"/ws/events/?token={raw}")
        assert connected
        await _publish(kind="budget.exceeded", business=business)
        message = await communicator.receive_json_from(timeout=5)
        assert message["kind"] == "budget.exceeded"
        await communicator.disconnect()
        layer_send.reset()  # its loop's connections first: flush() closes every loop's pools from this one
        await get_channel_layer().flush()
        channel_layers.backends.clear()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_websocket_refuses_a_foreign_browser_origin(make_member, business):
    user = await sync_to_async(make_member)("viewer", business)
    _, raw = await sync_to_async(issue_operator_token)(user=user)
    communicator = WebsocketCommunicator(
        application, f"/ws/events/?token={raw}", headers=[(b"origin", b"https://evil.example")]
    )
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}


@pytest.mark.django_db
@pytest.mark.parametrize("with_ids", [True, False])
def test_events_given_as_rows_are_recorded_and_wake_their_readers(
    business, monkeypatch, with_ids, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from mission_control import events
    from mission_control.bulk_insert import allocate_ids

    woken = []
    monkeypatch.setattr(events, "_wake", woken.extend)
    rows = [
        (timezone.now(), "x.done", business.pk, business.slug, None, None, "agent:1", f"row {n}", {"n": n})
        for n in range(3)
    ]
    ids = (allocate_ids((Event, 3)) or [None])[0] if with_ids else None
    with django_capture_on_commit_callbacks(execute=True):
        events.publish_rows(rows, ids)
    stored = list(
        Event.objects.filter(kind="x.done").order_by("id").values_list("business_id", "message", "data")
    )
    assert stored == [(business.pk, f"row {n}", {"n": n}) for n in range(3)]
    assert sorted(pk for _, pk in woken) == list(
        Event.objects.filter(kind="x.done").order_by("id").values_list("pk", flat=True)
    )
