"""Reads the ledger, presence events and versions of one business into timelines (one per subject):
what training and scoring compute features on. One query per source, bounded by a time range."""

from dataclasses import dataclass, field
from datetime import datetime

from agents.models import Agent
from executions.models import Execution, Status
from intelligence.features import Presence, Providers, Timeline
from intelligence.models import AgentVersionSeen, SubjectKind
from mission_control.models import Event
from workflows.models import CronJob, Workflow, WorkflowRun

FIELDS = (
    "agent_id",
    "cron_job_id",
    "workflow_run_id",
    "workflow_step",
    "status",
    "error_type",
    "created_at",
    "started_at",
    "finished_at",
    "duration_ms",
    "total_tokens",
    "model_provider",
)


@dataclass
class History:
    timelines: dict[tuple[str, str], Timeline] = field(default_factory=dict)
    # Per agent: (started, failed) of each finished execution: the training samples.
    starts: dict[int, list[tuple[float, bool]]] = field(default_factory=dict)
    labels: dict[tuple[str, str], str] = field(default_factory=dict)
    presence: Presence = field(default_factory=Presence)
    providers: Providers = field(default_factory=Providers)
    last_id: int = 0
    count: int = 0

    def agent_timelines(self):
        return {k: v for k, v in self.timelines.items() if k[0] == SubjectKind.AGENT}


def subject_key(kind: str, key) -> str:
    return f"{kind}:{key}"


def load(business_id: int, *, since: datetime, until: datetime) -> History:
    """Every success or failure that started in ``[since, until)``, grouped per subject."""
    history = History()
    rows = (
        Execution.objects.filter(
            business_id=business_id,
            started_at__gte=since,
            started_at__lt=until,
            status__in=(Status.SUCCESS, Status.FAILED),
            finished_at__isnull=False,
        )
        .order_by()
        .values_list("pk", *FIELDS)
    )
    run_workflow: dict[int, int] = {}
    raw = list(rows)
    run_ids = {r[3] for r in raw if r[3]}
    if run_ids:
        run_workflow = dict(WorkflowRun.objects.filter(pk__in=run_ids).values_list("pk", "workflow_id"))
    for (
        pk,
        agent_id,
        cron_id,
        run_id,
        step,
        status,
        error_type,
        created,
        started,
        finished,
        dur,
        tok,
        prov,
    ) in raw:
        failed = status == Status.FAILED
        wait = (started - created).total_seconds() if created and started else None
        row = {
            "finished": finished.timestamp(),
            "failed": failed,
            "error_type": error_type,
            "duration_ms": dur,
            "tokens": tok,
            "wait_s": wait,
            "agent_id": agent_id,
            "provider": prov,
        }
        subjects = [(SubjectKind.AGENT, str(agent_id))]
        if cron_id:
            subjects.append((SubjectKind.CRON_JOB, str(cron_id)))
        if run_id and step and run_id in run_workflow:
            subjects.append((SubjectKind.WORKFLOW_STEP, f"{run_workflow[run_id]}/{step}"))
        for subject in subjects:
            history.timelines.setdefault(subject, Timeline()).add(**row)
        history.starts.setdefault(agent_id, []).append((started.timestamp(), failed))
        history.last_id = max(history.last_id, pk)
    history.count = len(raw)
    for timeline in history.timelines.values():
        timeline.freeze()
    for samples in history.starts.values():
        samples.sort()
    history.providers = Providers.from_timelines(history.agent_timelines().values())
    history.presence = presence(business_id, since=since, until=until)
    history.labels = labels(business_id, history.timelines)
    return history


def presence(business_id: int, *, since: datetime, until: datetime) -> Presence:
    found = Presence()
    events = Event.objects.filter(
        business_id=business_id, kind__in=("agent.offline", "agent.restarted"), ts__gte=since, ts__lt=until
    ).values_list("kind", "agent_id", "ts")
    for kind, agent_id, ts in events.order_by("ts"):
        table = found.offline if kind == "agent.offline" else found.restarts
        table.setdefault(agent_id, []).append(ts.timestamp())
    versions = AgentVersionSeen.objects.filter(agent__business_id=business_id, seen_at__lt=until)
    for agent_id, version, seen in versions.order_by("agent_id", "seen_at").values_list(
        "agent_id", "version", "seen_at"
    ):
        found.versions.setdefault(agent_id, []).append((seen.timestamp(), version))
    return found


def labels(business_id: int, timelines) -> dict[tuple[str, str], str]:
    """People's names for the subjects: the agent's name, the cron job's, "workflow › step"."""
    names = dict(Agent.objects.filter(business_id=business_id).values_list("pk", "name"))
    crons = dict(CronJob.objects.filter(business_id=business_id).values_list("pk", "name"))
    flows = dict(Workflow.objects.filter(business_id=business_id).values_list("pk", "name"))
    found = {}
    for kind, key in timelines:
        if kind == SubjectKind.AGENT:
            found[(kind, key)] = names.get(int(key), f"agent {key}")
        elif kind == SubjectKind.CRON_JOB:
            found[(kind, key)] = crons.get(int(key), f"cron job {key}")
        else:
            flow, step = key.split("/", 1)
            found[(kind, key)] = f"{flows.get(int(flow), f'workflow {flow}')} › {step}"
    return found
