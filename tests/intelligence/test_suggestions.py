from datetime import timedelta

import pytest

from agents.services import create_agent
from governance.models import AuditEntry
from intelligence import suggestions
from intelligence.models import Suggestion
from tests.intelligence.histories import NOW, plain_execution, step_execution
from workflows.cron import create_job
from workflows.definitions import create_workflow, update_workflow


@pytest.fixture
def helper(business):
    return create_agent(business=business, name="helper", capabilities=["work"])


def workflow_with(business, steps, name="pipeline"):
    return create_workflow(business=business, name=name, definition={"steps": steps})


def only(business, kind):
    suggestions.refresh(business=business, now=NOW)
    return list(Suggestion.objects.filter(business=business, kind=kind))


@pytest.mark.django_db
@pytest.mark.parametrize("retries,expected", [(12, 1), (9, 0)])
def test_it_suggests_failing_fast_when_retries_almost_never_succeed(business, agent, retries, expected):
    wf = workflow_with(business, [{"id": "fetch", "agent": agent.pk, "retry": {"max_attempts": 3}}])
    for i in range(retries):
        step_execution(wf, step="fetch", agent=agent, retry_count=1, status="success" if i == 0 else "failed")
    found = only(business, "retry_futile")
    assert len(found) == expected
    if expected:
        s = found[0]
        assert s.evidence["retries"] == 12 and s.evidence["retries_succeeded"] == 1
        assert s.evidence["retry_success_rate"] == round(1 / 12, 4)
        assert s.gain["retries_avoided"] == 11
        assert s.change["definition"]["steps"][0]["retry"]["max_attempts"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize("runs,expected", [(25, 1), (19, 0)])
def test_it_suggests_a_timeout_near_the_observed_p99(business, agent, runs, expected):
    wf = workflow_with(business, [{"id": "sum", "agent": agent.pk, "timeout_s": 3600}])
    for i in range(runs):
        step_execution(wf, step="sum", agent=agent, duration_s=8 + i % 3)
    found = only(business, "timeout")
    assert len(found) == expected
    if expected:
        assert found[0].evidence["timeout_s"] == 3600
        assert 9.9 <= found[0].evidence["p99_duration_s"] <= 10
        assert found[0].change["definition"]["steps"][0]["timeout_s"] == 30


@pytest.mark.django_db
@pytest.mark.parametrize("reads,expected", [(False, 1), (True, 0)])
def test_it_suggests_running_steps_that_share_no_data_in_parallel(business, agent, reads, expected):
    second = {"id": "b", "agent": agent.pk, "depends_on": ["a"]}
    if reads:
        second["input"] = {"text": {"$ref": "steps.a.output"}}
    wf = workflow_with(business, [{"id": "a", "agent": agent.pk}, second])
    for _ in range(5):
        step_execution(wf, step="a", agent=agent, duration_s=10)
        step_execution(wf, step="b", agent=agent, duration_s=20)
    found = only(business, "parallelize")
    assert len(found) == expected
    if expected:
        assert found[0].gain == {"critical_path_before_s": 30.0, "critical_path_after_s": 20.0}
        assert found[0].change["definition"]["steps"][1]["depends_on"] == []


@pytest.mark.django_db
@pytest.mark.parametrize("cheap_runs,expected", [(20, 1), (19, 0)])
def test_it_suggests_a_cheaper_agent_with_the_same_success_rate(
    business, agent, helper, cheap_runs, expected
):
    wf = workflow_with(business, [{"id": "draft", "agent": agent.pk}])
    for i in range(20):
        step_execution(wf, step="draft", agent=agent, cost="0.01", status="failed" if i < 2 else "success")
    for i in range(cheap_runs):
        step_execution(wf, step="draft", agent=helper, cost="0.002", status="failed" if i < 2 else "success")
    found = only(business, "cheaper_agent")
    assert len(found) == expected
    if expected:
        s = found[0]
        assert s.evidence["cheaper_agent"] == helper.pk and s.evidence["cheaper_success_rate"] == 0.9
        # 40 runs in 30 days, each $0.008 cheaper: $0.32 a month.
        assert s.gain == {"monthly_saving_usd": "0.320000"}
        assert s.change["definition"]["steps"][0]["agent"] == helper.pk


@pytest.fixture
def piled(business, agent):
    jobs = [
        create_job(business=business, name=f"report-{i}", schedule="0 * * * *", agent=agent) for i in range(3)
    ]
    for day in range(4):
        for job in jobs:
            plain_execution(agent, at=NOW - timedelta(days=day, hours=1), cron_job=job, wait_s=30)
    for i in range(12):
        plain_execution(agent, at=NOW - timedelta(hours=i + 2), wait_s=1)
    return jobs


@pytest.mark.django_db
def test_it_suggests_staggering_cron_jobs_that_pile_up_and_applies_it(business, piled, make_member):
    [s] = only(business, "cron_stagger")
    assert s.evidence["mean_queue_wait_s"] == 30.0 and s.evidence["usual_queue_wait_s"] == 1.0
    suggestions.apply(suggestion=s, actor=make_member("admin", business))
    schedules = sorted(job.schedule for job in type(piled[0]).objects.filter(pk__in=[j.pk for j in piled]))
    assert schedules == ["0 * * * *", "10 * * * *", "5 * * * *"]
    s.refresh_from_db()
    assert s.state == "applied" and s.result["cron_jobs"]
    assert AuditEntry.objects.filter(action="cron_job.update").count() == 2
    assert AuditEntry.objects.filter(action="suggestion.apply", target_id=str(s.pk)).exists()


@pytest.mark.django_db
def test_two_jobs_at_the_same_minute_are_no_pile(business, agent):
    jobs = [create_job(business=business, name=f"r{i}", schedule="0 * * * *", agent=agent) for i in range(2)]
    for day in range(6):
        for job in jobs:
            plain_execution(agent, at=NOW - timedelta(days=day, hours=1), cron_job=job, wait_s=30)
    assert only(business, "cron_stagger") == []


@pytest.mark.django_db
@pytest.mark.parametrize("days,expected", [(5, 1), (3, 0)])
def test_it_finds_work_that_fails_at_the_same_hour_each_day(business, agent, days, expected):
    for day in range(7):
        for hour in (3, 9, 12, 15):
            at = (NOW - timedelta(days=day + 1)).replace(hour=hour)
            plain_execution(agent, at=at, status="failed" if hour == 3 and day < days else "success")
    found = [s for s in only(business, "failing_hour") if s.subject == f"agent:{agent.pk}"]
    assert len(found) == expected
    if expected:
        assert found[0].evidence["hour_utc"] == 3
        assert found[0].evidence["failures_at_hour"] == 5 and found[0].change is None


@pytest.mark.django_db
def test_applying_makes_a_new_workflow_version_and_a_dismissal_is_remembered(business, agent, make_member):
    wf = workflow_with(business, [{"id": "fetch", "agent": agent.pk, "retry": {"max_attempts": 3}}])
    for _ in range(12):
        step_execution(wf, step="fetch", agent=agent, retry_count=1, status="failed")
    [s] = only(business, "retry_futile")
    admin = make_member("admin", business)
    suggestions.apply(suggestion=s, actor=admin)
    wf.refresh_from_db()
    assert wf.current_version.number == 2
    assert wf.definition["steps"][0]["retry"]["max_attempts"] == 1
    assert wf.versions.get(number=1).definition["steps"][0]["retry"]["max_attempts"] == 3  # undo: v1 kept
    assert only(business, "retry_futile") == [Suggestion.objects.get(pk=s.pk)]  # v2 retries once: nothing new


@pytest.mark.django_db
def test_a_dismissed_suggestion_stays_dismissed(business, agent):
    wf = workflow_with(business, [{"id": "sum", "agent": agent.pk, "timeout_s": 3600}])
    for _ in range(25):
        step_execution(wf, step="sum", agent=agent)
    [s] = only(business, "timeout")
    suggestions.dismiss(suggestion=s)
    again = only(business, "timeout")
    assert [(x.pk, x.state) for x in again] == [(s.pk, "dismissed")]


@pytest.mark.django_db
def test_it_refuses_a_suggestion_made_against_an_older_version(business, agent):
    wf = workflow_with(business, [{"id": "sum", "agent": agent.pk, "timeout_s": 3600}])
    for _ in range(25):
        step_execution(wf, step="sum", agent=agent)
    [s] = only(business, "timeout")
    update_workflow(workflow=wf, definition={"steps": [{"id": "sum", "agent": agent.pk, "timeout_s": 1800}]})
    from mission_control.errors import DomainError

    with pytest.raises(DomainError) as refused:
        suggestions.apply(suggestion=s)
    assert refused.value.code == "suggestion_stale"
    wf.refresh_from_db()
    assert wf.definition["steps"][0]["timeout_s"] == 1800
