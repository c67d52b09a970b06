from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.utils import timezone

from agents.models import Agent
from executions import partitions
from governance.models import Business
from mission_control.bulk_insert import copy_rows
from mission_control.models import AppendOnlyError, AppendOnlyModel


class Trigger(models.TextChoices):
    MANUAL = "manual", "Manual"
    CRON = "cron", "Cron"
    AUTONOMOUS = "autonomous", "Autonomous"
    WEBHOOK = "webhook", "Webhook"
    WORKFLOW = "workflow", "Workflow"


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"
    ABORTED = "aborted", "Aborted"


TERMINAL = (Status.SUCCESS, Status.FAILED, Status.ABORTED)


class CostSource(models.TextChoices):
    REPORTED = "reported", "Reported by the agent"
    COMPUTED = "computed", "Computed from price data"
    UNKNOWN = "unknown", "Unknown model"


ACTIVE = (Status.PENDING, Status.RUNNING)


KEY_KINDS = ("external_id", "claim_id")
_DEFERRED = object()  # a key field not loaded: left alone on save


class ImmutableExecution(AppendOnlyError):
    """Raised when code tries to change a terminal execution or delete any execution."""


class ExecutionQuerySet(models.QuerySet):
    def terminal(self):
        return self.filter(status__in=TERMINAL)

    def active(self):
        return self.filter(status__in=ACTIVE)

    def for_business_ids(self, ids):
        return self.filter(business_id__in=ids)

    def claimable(self, now):
        """Pending work whose retry backoff (if any) has elapsed."""
        return self.filter(status=Status.PENDING).filter(
            models.Q(not_before__isnull=True) | models.Q(not_before__lte=now)
        )

    def update(self, **kwargs):
        # Bulk updates (and bulk_update, which goes through here) never touch terminal rows:
        # the ledger's history is written once. PostgreSQL's trigger refuses it as well.
        return super(ExecutionQuerySet, self.exclude(status__in=TERMINAL)).update(**kwargs)

    def delete(self):
        raise ImmutableExecution("Executions are never deleted.")

    delete.queryset_only = True

    def bulk_create(self, objs, *args, **kwargs):
        # Rows and their idempotency keys in one transaction: a taken key (IntegrityError) undoes
        # the whole batch, as the unique index on the ledger itself did.
        objs = list(objs)
        partitions.admit(row.created_at for row in objs)
        with transaction.atomic(using=self.db, savepoint=False):
            created = super().bulk_create(objs, *args, **kwargs)
            write_keys(created)
        return created


def write_keys(rows, ids: list[int] | None = None) -> None:
    """The idempotency keys of ``rows`` just inserted (in the caller's transaction: a key already
    taken raises IntegrityError and undoes the rows with it). ``ids``: taken beforehand for the
    keys (``mission_control.bulk_insert.allocate_ids``), which are then written with COPY."""
    new = [(row, kind, value) for row in rows for kind, value in row._new_keys()]
    if new and ids is not None and len(ids) == len(new):
        # Straight from the rows to COPY: no IdempotencyKey instance per key.
        copy_rows(
            IdempotencyKey,
            ["id", "agent_id", "kind", "value", "execution_id", "execution_created_at"],
            (
                (key_id, row.agent_id, kind, value, row.pk, row.created_at)
                for key_id, (row, kind, value) in zip(ids, new, strict=True)
            ),
        )
    elif new:
        IdempotencyKey.objects.bulk_create(
            [key for row in rows for key in row._keys(row._new_keys())], batch_size=1000
        )
    for row in rows:
        row._loaded_keys = (row.external_id, row.claim_id)


class Execution(models.Model):
    """One run of an agent's work: the ledger row. Terminal rows never change."""

    business = models.ForeignKey(Business, on_delete=models.PROTECT, related_name="executions")
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="executions")
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.AUTONOMOUS)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    external_id = models.CharField(max_length=200, null=True, blank=True)
    input = models.JSONField(default=dict, blank=True)
    output = models.JSONField(null=True, blank=True)
    prompt = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.BigIntegerField(null=True, blank=True)
    model = models.CharField(max_length=120, blank=True)
    model_provider = models.CharField(max_length=60, blank=True)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cache_read_tokens = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=18, decimal_places=8, default=Decimal(0))
    cost_source = models.CharField(max_length=10, choices=CostSource.choices, default=CostSource.UNKNOWN)
    price_data_version = models.CharField(max_length=40, blank=True)
    session_key = models.CharField(max_length=200, blank=True)
    session_id = models.CharField(max_length=200, blank=True)
    retry_count = models.PositiveIntegerField(default=0)
    replay_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replays",
        # No database constraint: a later month may point here after this one is archived
        # (docs/ledger-partitioning.md).
        db_constraint=False,
    )
    # Plain ids: workflows import executions, never the other way round.
    cron_job_id = models.BigIntegerField(null=True, blank=True)
    workflow_run_id = models.BigIntegerField(null=True, blank=True)
    workflow_step = models.CharField(max_length=100, blank=True)
    requested_by = models.CharField(max_length=150, blank=True)
    request_hash = models.CharField(max_length=64, blank=True, help_text="Body hash for idempotent reports.")
    error_type = models.CharField(
        max_length=80, blank=True, help_text="A machine code for the error (retry policies match on it)."
    )
    # Linked retries: each attempt is its own ledger row pointing at the one it retries.
    retry_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="retries",
        # No database constraint: a later month may point here after this one is archived
        # (docs/ledger-partitioning.md).
        db_constraint=False,
    )
    retry_policy = models.JSONField(null=True, blank=True)
    attempt = models.PositiveSmallIntegerField(default=1, help_text="Attempt number within its retry chain.")
    timeout_s = models.PositiveIntegerField(null=True, blank=True, help_text="Start-to-close deadline.")
    heartbeat_timeout_s = models.PositiveIntegerField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life while running.")
    not_before = models.DateTimeField(null=True, blank=True, help_text="Retry backoff: not claimable before.")
    abort_requested_at = models.DateTimeField(null=True, blank=True)
    abort_reason = models.TextField(blank=True)
    dispatch_task_id = models.CharField(max_length=64, blank=True)
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    last_dispatch_at = models.DateTimeField(null=True, blank=True)
    # Held while a push delivery is in flight, so a duplicated task message cannot POST meanwhile.
    dispatch_lease_until = models.DateTimeField(null=True, blank=True)
    estimate_usd = models.DecimalField(
        max_digits=18, decimal_places=8, default=Decimal(0), help_text="Budget reserved when it started."
    )
    # The agent's id for the claim that took this row: a retried claim gets the same execution.
    claim_id = models.CharField(max_length=64, null=True, blank=True)
    # Work that named a capability, not an agent: the router's decision (executions/routing.py).
    routing = models.JSONField(
        null=True,
        blank=True,
        help_text="Why this agent: the candidates, their figures and scores, the reason.",
    )

    objects = ExecutionQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    input_tokens__gte=0, output_tokens__gte=0, cache_read_tokens__gte=0, total_tokens__gte=0
                ),
                name="execution_tokens_non_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(cache_read_tokens__lte=models.F("input_tokens")),
                name="execution_cache_within_input",
            ),
            models.CheckConstraint(condition=models.Q(cost_usd__gte=0), name="execution_cost_non_negative"),
        ]
        indexes = [
            # Lookups only: uniqueness per agent is held by IdempotencyKey (a partitioned ledger
            # cannot have a unique index without its partition key).
            models.Index(
                fields=["agent", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="execution_external_id",
            ),
            models.Index(fields=["business", "-id"], name="execution_business_id"),
            models.Index(fields=["business", "status", "-id"], name="execution_business_status"),
            # The explorer's trigger filter: 336 ms on 2M rows without it (bench/dashboards.py).
            models.Index(fields=["business", "trigger", "-id"], name="execution_business_trigger"),
            models.Index(fields=["agent", "-id"], name="execution_agent_id"),
            models.Index(fields=["agent", "status"], name="execution_agent_status"),
            models.Index(fields=["business", "started_at"], name="execution_business_started"),
            # The explorer's duration range: 199 ms on 2M rows without it, walking the ledger newest
            # first for the 1 % in range (bench/dashboards.py); matches are few, so sorting them is cheap.
            models.Index(fields=["business", "duration_ms"], name="execution_business_duration"),
            models.Index(fields=["cron_job_id", "-id"], name="execution_cron_job"),
            models.Index(fields=["workflow_run_id"], name="execution_workflow_run"),
            models.Index(fields=["business", "created_at"], name="execution_business_created"),
            # The explorer's order (newest created first) across every business a superuser sees.
            models.Index(fields=["-created_at", "-id"], name="execution_created_id"),
            # Claims and sweeps only ever look at the few live rows.
            models.Index(
                fields=["agent", "id"], condition=models.Q(status="pending"), name="execution_pending_claim"
            ),
            models.Index(
                fields=["status", "id"],
                condition=models.Q(status__in=["pending", "running"]),
                name="execution_live",
            ),
        ]

    def __str__(self) -> str:
        return f"Execution #{self.pk} ({self.status})"

    def save(self, *args, **kwargs):
        if getattr(self, "_loaded_status", None) in TERMINAL:
            raise ImmutableExecution(f"Execution #{self.pk} is {self._loaded_status} and cannot change.")
        if self._state.adding:
            partitions.admit([self.created_at])
        keys = self._new_keys()
        if keys:
            # The row and its idempotency keys are one write: a taken key undoes the row.
            with transaction.atomic(savepoint=False):  # the caller's savepoint, if any, is enough
                super().save(*args, **kwargs)
                IdempotencyKey.objects.bulk_create(self._keys(keys))
        else:
            super().save(*args, **kwargs)
        self._loaded_status = self.status
        self._loaded_keys = (self.external_id, self.claim_id)

    def _new_keys(self) -> list[tuple[str, str]]:
        """The keys this row gained since it was loaded (or all of them, when new)."""
        loaded = getattr(self, "_loaded_keys", (None, None))
        keys = []
        for kind, before in zip(KEY_KINDS, loaded, strict=True):
            value = self.__dict__.get(kind)  # never a deferred load
            if value and value != before and before is not _DEFERRED:
                keys.append((kind, value))
        return keys

    def _keys(self, keys: list[tuple[str, str]]) -> list["IdempotencyKey"]:
        return [
            IdempotencyKey(
                agent_id=self.agent_id,
                kind=kind,
                value=value,
                execution_id=self.pk,
                execution_created_at=self.created_at,
            )
            for kind, value in keys
        ]

    def delete(self, *args, **kwargs):
        raise ImmutableExecution("Executions are never deleted.")

    @classmethod
    def from_db(cls, db, field_names, values):
        # Remember the status as loaded: a row that was terminal then may never be saved again.
        instance = super().from_db(db, field_names, values)
        instance._loaded_status = instance.__dict__.get("status")
        instance._loaded_keys = tuple(instance.__dict__.get(kind, _DEFERRED) for kind in KEY_KINDS)
        return instance

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL


class IdempotencyKey(models.Model):
    """An agent's key for one execution (its ``external_id``, or the ``claim_id`` that took it).

    Unique per agent and kind: this small, unpartitioned table holds the ledger's idempotency
    (a unique index on the monthly-partitioned ledger would have to contain the month). Written in
    the same transaction as the execution row (``Execution.save`` / ``bulk_create``); a key whose
    execution is no longer in the ledger names an archived month. Never changed or deleted.
    """

    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="+", db_index=False)
    kind = models.CharField(max_length=12, choices=[(k, k) for k in KEY_KINDS])
    value = models.CharField(max_length=200)
    execution_id = models.BigIntegerField()
    execution_created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "kind", "value"], name="uniq_idempotency_key")
        ]

    def __str__(self) -> str:
        return f"{self.agent_id}:{self.kind}:{self.value} -> #{self.execution_id}"


class LogLevel(models.TextChoices):
    DEBUG = "debug", "Debug"
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"


class LogKind(models.TextChoices):
    LOG = "log", "Log"
    PROMPT = "prompt", "Prompt"
    COMPLETION = "completion", "Completion"
    TOOL_CALL = "tool_call", "Tool call"
    API_CALL = "api_call", "API call"


def fill_ledger_times(rows) -> None:
    """Copy what a row keeps of its execution (``execution_created_at``; on log entries the agent and
    business too) where it names the execution by id only: one query for all of them."""
    for row in rows:
        cached = row._state.fields_cache.get("execution")
        if cached is not None and cached.pk == row.execution_id:
            for field, source in row.COPIED:
                setattr(row, field, getattr(cached, source))
    missing = {
        row.execution_id
        for row in rows
        if row.execution_id and any(getattr(row, field) is None for field, _ in row.COPIED)
    }
    if not missing:
        return
    copied = rows[0].COPIED
    found = {
        values[0]: values[1:]
        for values in Execution.objects.filter(pk__in=missing).values_list("pk", *(s for _, s in copied))
    }
    for row in rows:
        if row.execution_id in missing:
            for (field, _), value in zip(
                copied, found.get(row.execution_id, (None,) * len(copied)), strict=True
            ):
                setattr(row, field, value)


class LedgerReference(models.Model):
    """A row pointing at an execution by ``(execution_id, execution_created_at)``: the composite key
    of the month-partitioned ledger. The time is filled in from the execution when it is saved."""

    # (field here, field of the execution): what the row keeps of its execution, set when saved.
    COPIED: tuple[tuple[str, str], ...] = (("execution_created_at", "created_at"),)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        cached = self._state.fields_cache.get("execution")
        if self.execution_id is None:
            for field, _ in self.COPIED:
                setattr(self, field, None)
        elif cached is not None and cached.pk == self.execution_id:
            for field, source in self.COPIED:
                setattr(self, field, getattr(cached, source))
        elif (
            any(getattr(self, field) is None for field, _ in self.COPIED)
            or self.__dict__.get("_ledger_ref", self.execution_id) != self.execution_id
        ):
            # Named by id only, or re-pointed since it was loaded: read the time from the ledger.
            for field, _ in self.COPIED:
                setattr(self, field, None)
            fill_ledger_times([self])
        self._ledger_ref = self.execution_id
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and ({"execution", "execution_id"} & set(update_fields)):
            kwargs["update_fields"] = [*update_fields, *(field for field, _ in self.COPIED)]
        super().save(*args, **kwargs)

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._ledger_ref = instance.__dict__.get("execution_id")
        return instance


class LedgerReferenceQuerySet(models.QuerySet):
    """``bulk_create`` fills ``execution_created_at`` as ``LedgerReference.save`` does."""

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        fill_ledger_times(objs)
        return super().bulk_create(objs, *args, **kwargs)

    def update(self, **kwargs):
        # Re-pointing rows at another execution moves its month along with it.
        target = kwargs.get("execution", kwargs.get("execution_id", _DEFERRED))
        if target is not _DEFERRED and "execution_created_at" not in kwargs:
            if target is None:
                kwargs["execution_created_at"] = None
            elif isinstance(target, Execution):
                kwargs["execution_created_at"] = target.created_at
            else:
                kwargs["execution_created_at"] = Execution.objects.filter(pk=target).values("created_at")[:1]
        return super().update(**kwargs)


class ExecutionLogQuerySet(LedgerReferenceQuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Execution logs are append-only.")

    def delete(self):
        raise AppendOnlyError("Execution logs are append-only.")


class ExecutionLog(LedgerReference, AppendOnlyModel):
    """A structured log entry of an execution. Append-only, ordered by ``seq``."""

    # Enforced by the composite key (execution_id, execution_created_at) on PostgreSQL, where the
    # logs are partitioned by their execution's month (executions/partitions.py).
    execution = models.ForeignKey(
        Execution, on_delete=models.PROTECT, related_name="logs", db_constraint=False
    )
    execution_created_at = models.DateTimeField(
        help_text="Its execution's created_at: the month it lives in."
    )
    # Copies of the execution's (which holds the constraints): the logs page scopes and filters the
    # entries by them without a join to the ledger, which read every entry (bench/dashboards.py).
    agent = models.ForeignKey(
        Agent, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    business = models.ForeignKey(
        Business, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    seq = models.PositiveIntegerField()
    ts = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=8, choices=LogLevel.choices, default=LogLevel.INFO)
    kind = models.CharField(max_length=12, choices=LogKind.choices, default=LogKind.LOG)
    message = models.TextField(blank=True)
    data = models.JSONField(null=True, blank=True)
    # The agent's id for this entry: a retried append does not add it twice.
    client_id = models.CharField(max_length=64, null=True, blank=True)

    objects = ExecutionLogQuerySet.as_manager()
    COPIED = (
        ("execution_created_at", "created_at"),
        ("agent_id", "agent_id"),
        ("business_id", "business_id"),
    )

    class Meta:
        ordering = ["execution_id", "seq"]
        indexes = [
            # The logs page, newest first, by agent and by business (scope).
            models.Index(fields=["agent", "-id"], name="executionlog_agent_id"),
            models.Index(fields=["business", "-id"], name="executionlog_business_id"),
        ]
        constraints = [
            # With the month: a unique index on a partitioned table holds its partition key.
            models.UniqueConstraint(fields=["execution", "execution_created_at", "seq"], name="uniq_log_seq"),
            models.UniqueConstraint(
                fields=["execution", "execution_created_at", "client_id"],
                condition=models.Q(client_id__isnull=False),
                name="uniq_log_client_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.execution_id}#{self.seq} {self.kind}"


class CostCorrection(LedgerReference, AppendOnlyModel):
    """A later, better cost for a terminal execution (e.g. its model was unknown to the price data
    then). The execution row stays as it was; the API shows the latest correction's cost."""

    execution = models.ForeignKey(
        Execution, on_delete=models.PROTECT, related_name="cost_corrections", db_constraint=False
    )
    execution_created_at = models.DateTimeField(help_text="Its execution's created_at (composite key).")
    cost_usd = models.DecimalField(max_digits=18, decimal_places=8)
    cost_source = models.CharField(max_length=10, choices=CostSource.choices)
    price_data_version = models.CharField(max_length=40, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["execution_id", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(cost_usd__gte=0), name="cost_correction_non_negative")
        ]

    def __str__(self) -> str:
        return f"{self.execution_id}: {self.cost_usd} ({self.cost_source})"


class AgentRunSettings(models.Model):
    """How an agent's executions run: deadlines, retries, the push signing secret and its webhook.

    One row per agent, made when first needed; an execution copies what applies when it starts.
    """

    agent = models.OneToOneField(Agent, on_delete=models.CASCADE, related_name="run_settings")
    timeout_s = models.PositiveIntegerField(
        null=True, blank=True, help_text="Start-to-close deadline for each execution (seconds)."
    )
    heartbeat_timeout_s = models.PositiveIntegerField(
        null=True, blank=True, help_text="A running execution must show life this often (seconds)."
    )
    retry_policy = models.JSONField(null=True, blank=True)
    # Raw on purpose: the dispatcher must sign with it (it is a shared HMAC secret, not a login).
    signing_secret = models.CharField(max_length=100, blank=True)
    hook_token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    hook_token_prefix = models.CharField(max_length=20, blank=True)
    hook_rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "agent run settings"

    def __str__(self) -> str:
        return f"Run settings of {self.agent}"


class RoutingSettings(models.Model):
    """A business's routing knobs (one row, made when first set)."""

    business = models.OneToOneField(Business, on_delete=models.CASCADE, related_name="routing_settings")
    explore_share = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal("0.5"))],
        help_text="Share of routed work sent to another eligible agent than the best, so its figures stay current (0: never).",
    )
    updated_by = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "routing settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(explore_share__gte=0, explore_share__lte=Decimal("0.5")),
                name="routing_explore_share_range",
            )
        ]

    def __str__(self) -> str:
        return f"Routing of {self.business}"


class ArchivedMonth(models.Model):
    """A month (or the history before the first monthly partition) that ``manage.py archive_ledger``
    exported, verified and detached from the ledger. Its tables stay readable (``export_archive``)."""

    label = models.CharField(max_length=20, unique=True, help_text="2024-12, or 'history'.")
    since = models.DateTimeField(null=True, blank=True, help_text="None: from the beginning.")
    until = models.DateTimeField()
    executions_table = models.CharField(max_length=63)
    logs_table = models.CharField(max_length=63)
    path = models.CharField(max_length=500, help_text="The gzip JSONL export.")
    figures = models.JSONField(help_text="Per table: rows, cost and token sums, min/max id, as verified.")
    archived_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["until"]

    def __str__(self) -> str:
        return f"Archived {self.label}"
