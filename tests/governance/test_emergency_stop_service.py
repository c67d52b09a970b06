import pytest

from governance.controls import emergency_stop_active
from governance.models import AuditEntry, EmergencyStop
from governance.signals import emergency_stop_engaged, emergency_stop_released
from governance.stops import engage_emergency_stop, release_emergency_stop
from mission_control.errors import DomainError
from mission_control.models import Event


@pytest.fixture
def heard():
    calls = []

    def engaged(sender, stop, business_id, **kwargs):
        calls.append(("engaged", stop.pk, business_id))

    def released(sender, stop, business_id, **kwargs):
        calls.append(("released", stop.pk, business_id))

    emergency_stop_engaged.connect(engaged, dispatch_uid="test-engaged")
    emergency_stop_released.connect(released, dispatch_uid="test-released")
    yield calls
    emergency_stop_engaged.disconnect(dispatch_uid="test-engaged")
    emergency_stop_released.disconnect(dispatch_uid="test-released")


@pytest.mark.django_db
def test_engaging_records_audits_publishes_and_signals(business, heard):
    stop, engaged = engage_emergency_stop(business=business, reason="costs spiking", actor="alice")
    assert engaged and emergency_stop_active(business.pk)
    assert heard == [("engaged", stop.pk, business.pk)]
    assert AuditEntry.objects.get(action="emergency_stop.engage").reason == "costs spiking"
    assert Event.objects.get(kind="emergency_stop.engaged").business_id == business.pk


@pytest.mark.django_db
def test_engaging_twice_keeps_the_stop_in_force(business, heard):
    first, _ = engage_emergency_stop(business=business, reason="one", actor="alice")
    again, engaged = engage_emergency_stop(business=business, reason="two", actor="bob")
    assert (again.pk, engaged) == (first.pk, False)
    assert EmergencyStop.objects.count() == 1 and len(heard) == 1


@pytest.mark.django_db
def test_releasing_keeps_the_record_and_signals(business, heard):
    stop, _ = engage_emergency_stop(business=business, reason="one", actor="alice")
    release_emergency_stop(business=business, actor="olga", reason="fixed")
    stop.refresh_from_db()
    assert (stop.released_by, stop.release_reason) == ("olga", "fixed")
    assert not emergency_stop_active(business.pk)
    assert heard[-1] == ("released", stop.pk, business.pk)
    assert Event.objects.filter(kind="emergency_stop.released").count() == 1
    assert AuditEntry.objects.filter(action="emergency_stop.release").count() == 1


@pytest.mark.django_db
def test_releasing_what_is_not_engaged_is_a_409(business):
    with pytest.raises(DomainError) as refused:
        release_emergency_stop(business=business, actor="olga")
    assert (refused.value.status, refused.value.code) == (409, "not_engaged")


@pytest.mark.django_db
def test_a_failing_receiver_does_not_stop_the_stop(business):
    def broken(**kwargs):
        raise RuntimeError("receiver bug")

    emergency_stop_engaged.connect(broken, dispatch_uid="test-broken")
    try:
        engage_emergency_stop(business=business, reason="still stops", actor="alice")
    finally:
        emergency_stop_engaged.disconnect(dispatch_uid="test-broken")
    assert emergency_stop_active(business.pk)


@pytest.mark.django_db
def test_a_global_stop_and_a_business_stop_are_separate_scopes(business):
    engage_emergency_stop(business=None, reason="global", actor="root")
    engage_emergency_stop(business=business, reason="local", actor="root")
    release_emergency_stop(business=None, actor="root")
    assert emergency_stop_active(business.pk)
    assert not emergency_stop_active(None)
