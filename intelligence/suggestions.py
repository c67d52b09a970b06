"""Suggestions: refreshed from the history by a sweep, applied or dismissed by an admin.

Applying goes through the same services as a person editing by hand: a workflow change is a new
version (``workflows.definitions.update_workflow``; the old version stays and can be made current
again), a schedule change is a cron edit (``workflows.cron.update_job``); both are audited by those
services, and the suggestion keeps what it changed (``result``) and records its own audit entry.
A dismissed suggestion stays dismissed for the state it was made against (its ``basis``).
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from governance.audit import actor_name, record
from governance.models import Business
from intelligence import advice
from intelligence.models import Suggestion, SuggestionState
from mission_control.errors import DomainError
from workflows.cron import update_job
from workflows.definitions import update_workflow
from workflows.models import CronJob, Workflow


@transaction.atomic
def refresh(*, business: Business, now: datetime | None = None) -> dict:
    """Recompute the advice: new findings open, open ones no longer found go, decided ones stay."""
    now = now or timezone.now()
    found = advice.detect(business.pk, now=now)
    existing = {
        (s.kind, s.subject, s.basis): s
        for s in Suggestion.objects.select_for_update().filter(business=business)
    }
    seen, opened = set(), 0
    for item in found:
        key = (item.kind, item.subject, item.basis)
        seen.add(key)
        fields = {
            "label": item.label[:300],
            "summary": item.summary[:500],
            "evidence": item.evidence,
            "expected_gain": item.expected_gain[:500],
            "gain": item.gain,
            "change": item.change,
            "updated_at": now,
        }
        current = existing.get(key)
        if current is None:
            Suggestion.objects.create(
                business=business,
                kind=item.kind,
                subject=item.subject,
                basis=item.basis,
                created_at=now,
                **fields,
            )
            opened += 1
        elif current.state == SuggestionState.OPEN:
            Suggestion.objects.filter(pk=current.pk).update(**fields)
    gone = [s.pk for key, s in existing.items() if key not in seen and s.state == SuggestionState.OPEN]
    Suggestion.objects.filter(pk__in=gone).delete()
    return {"found": len(found), "opened": opened, "withdrawn": len(gone)}


def refresh_all(*, now: datetime | None = None) -> dict:
    totals = {"found": 0, "opened": 0, "withdrawn": 0}
    for business in Business.objects.order_by("pk"):
        for key, value in refresh(business=business, now=now).items():
            totals[key] += value
    return totals


def _open(suggestion: Suggestion) -> Suggestion:
    locked = (
        Suggestion.objects.select_for_update(of=("self",)).select_related("business").get(pk=suggestion.pk)
    )
    if locked.state != SuggestionState.OPEN:
        raise DomainError(
            "suggestion_not_open", f"This suggestion was {locked.state} already.", state=locked.state
        )
    return locked


@transaction.atomic
def apply(*, suggestion: Suggestion, actor=None) -> Suggestion:
    """Make the suggested change through the owning service. Refuses a suggestion that is not open
    (``suggestion_not_open``), one that is advice only (``not_applicable``), and one whose subject
    changed since it was made (``suggestion_stale``: a newer workflow version, another schedule)."""
    suggestion = _open(suggestion)
    change = suggestion.change
    if not change:
        raise DomainError("not_applicable", "This suggestion is advice only: there is no change to apply.")
    if change["type"] == "workflow_version":
        result = _apply_workflow(suggestion, change, actor)
    else:
        result = _apply_schedules(suggestion, change, actor)
    suggestion.state = SuggestionState.APPLIED
    suggestion.result = result
    suggestion.decided_by = actor_name(actor)
    suggestion.decided_at = timezone.now()
    suggestion.save(update_fields=["state", "result", "decided_by", "decided_at"])
    record(
        actor=actor,
        action="suggestion.apply",
        business=suggestion.business,
        target_type="suggestion",
        target_id=suggestion.pk,
        before={"state": SuggestionState.OPEN},
        after={"state": SuggestionState.APPLIED, "kind": suggestion.kind, **result},
    )
    return suggestion


def _stale(detail: str):
    return DomainError("suggestion_stale", detail + " Refresh the suggestions and look again.")


def _apply_workflow(suggestion: Suggestion, change: dict, actor) -> dict:
    workflow = (
        Workflow.objects.select_related("current_version")
        .filter(pk=change["workflow"], business=suggestion.business)
        .first()
    )
    if workflow is None or workflow.current_version is None:
        raise _stale("The workflow is gone.")
    if workflow.current_version.number != change["from_version"]:
        raise _stale(
            f"{workflow.name} is at version {workflow.current_version.number} now, "
            f"not {change['from_version']} as when this was suggested."
        )
    updated = update_workflow(workflow=workflow, actor=actor, definition=change["definition"])
    return {
        "workflow": workflow.pk,
        "from_version": change["from_version"],
        "to_version": updated.current_version.number,
        "what": change["what"],
        "undo": f"make version {change['from_version']} of {workflow.name} current again",
    }


def _apply_schedules(suggestion: Suggestion, change: dict, actor) -> dict:
    done = {}
    jobs = {
        str(job.pk): job
        for job in CronJob.objects.filter(
            business=suggestion.business, pk__in=[int(k) for k in change["schedules"]]
        )
    }
    for pk, move in change["schedules"].items():
        job = jobs.get(pk)
        if job is None:
            raise _stale(f"Cron job {pk} is gone.")
        if job.schedule != move["from"]:
            raise _stale(f"{job.name}'s schedule is {job.schedule!r} now, not {move['from']!r}.")
    for pk, move in change["schedules"].items():
        if move["to"] != move["from"]:
            update_job(job=jobs[pk], actor=actor, schedule=move["to"])
        done[pk] = move
    return {"cron_jobs": done, "undo": "set each schedule back to its 'from'"}


@transaction.atomic
def dismiss(*, suggestion: Suggestion, actor=None) -> Suggestion:
    """Remember that people decided against it (it does not come back for the same basis)."""
    suggestion = _open(suggestion)
    suggestion.state = SuggestionState.DISMISSED
    suggestion.decided_by = actor_name(actor)
    suggestion.decided_at = timezone.now()
    suggestion.save(update_fields=["state", "decided_by", "decided_at"])
    record(
        actor=actor,
        action="suggestion.dismiss",
        business=suggestion.business,
        target_type="suggestion",
        target_id=suggestion.pk,
        before={"state": SuggestionState.OPEN},
        after={"state": SuggestionState.DISMISSED, "kind": suggestion.kind},
    )
    return suggestion
