"""Searching the ledger: the filters shared by the list, the export and the pages.

``q`` is full-text over error, input, output and log messages: PostgreSQL's text search served by
the GIN indexes of migration 0004 (the expressions below must stay identical to the indexed
ones), a case-insensitive LIKE on SQLite.
"""

import django_filters
from django import forms
from django.db import connection
from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from executions.models import CostCorrection, Execution, ExecutionLog, Status, Trigger
from governance.models import Business
from mission_control.params import InvalidParameter, parse_id, parse_int

EXECUTION_DOCUMENT = (
    "(to_tsvector('english'::regconfig, coalesce(error, ''))"
    " || to_tsvector('english'::regconfig, coalesce(input, '{}'::jsonb))"
    " || to_tsvector('english'::regconfig, coalesce(output, 'null'::jsonb)))"
)
LOG_DOCUMENT = "to_tsvector('english'::regconfig, message)"
QUERY = "websearch_to_tsquery('english'::regconfig, %s)"


# A term matching at least this many rows (executions or log entries) is common: a page of newest
# matches is found by walking the ledger newest first and testing each row (a few hundred rows),
# where collecting every match first would read thousands of rows and sort them. A rarer term is
# served by its GIN indexes, matches first. Measured on 2 million executions (bench/dashboards.py):
# the walk reads a page of a 1-in-12 term in a few ms; collecting its 166,000 log matches took 1.3 s.
COMMON_MATCHES = 2000
# Matches on each side, up to COMMON_MATCHES: served by the two GIN indexes (on every partition).
PROBE = (
    f"(SELECT 0, id FROM executions_execution WHERE {EXECUTION_DOCUMENT} @@ {QUERY} LIMIT %s) "  # noqa: S608
    f"UNION ALL (SELECT 1, execution_id FROM executions_executionlog WHERE {LOG_DOCUMENT} @@ {QUERY} LIMIT %s)"
)
# Before the probe, the newest SAMPLE finished executions are tested as the walk would test them: a
# term that matches WALKABLE of them (0.2 %) is found by the walk within a few thousand rows a page.
# The probe cannot stop early (its GIN index makes a bitmap of every match before the LIMIT): 30-100
# ms for a common term on 2 million executions, growing with the ledger; the sample costs the same at
# any size. Live rows are left out: they have no output or error yet, and a queue of them (the bench's
# newest 2,000) would make every term look rare.
SAMPLE, WALKABLE = 2000, 4
SAMPLED = (
    "SELECT count(*) FROM (SELECT id, created_at, error, input, output FROM executions_execution "  # noqa: S608
    f"WHERE status NOT IN ('pending', 'running') ORDER BY id DESC LIMIT {SAMPLE}) e "
    f"WHERE {EXECUTION_DOCUMENT} @@ {QUERY} "
    # A scalar subquery, not EXISTS: the planner would turn EXISTS into a hash of every log match.
    "OR coalesce((SELECT true FROM executions_executionlog l WHERE l.execution_id = e.id "
    f"AND l.execution_created_at = e.created_at AND {LOG_DOCUMENT.replace('message', 'l.message')} @@ {QUERY} "
    "LIMIT 1), false)"
)


def full_text(qs: QuerySet, q: str) -> QuerySet:
    q = q.strip()
    if not q:
        return qs
    if connection.vendor == "postgresql":
        rare = _rare_matches(q)
        if rare is None:
            # Only constants are formatted in; the user's text is a bound parameter.
            test = RawSQL(  # noqa: S611
                f"({EXECUTION_DOCUMENT} @@ {QUERY} OR EXISTS (SELECT 1 FROM executions_executionlog l "  # noqa: S608
                "WHERE l.execution_id = executions_execution.id AND l.execution_created_at = executions_execution.created_at "
                f"AND {LOG_DOCUMENT.replace('message', 'l.message')} @@ {QUERY}))",
                [q, q],
                output_field=BooleanField(),
            )
            return qs.filter(test)
        # The few matches found by the probe, as constants: each monthly partition answers them from
        # its primary key (a join on a subquery made PostgreSQL scan the partitions whole).
        return qs.filter(pk__in=rare)
    in_logs = ExecutionLog.objects.filter(message__icontains=q).values("execution_id")
    return qs.filter(
        Q(error__icontains=q) | Q(input__icontains=q) | Q(output__icontains=q) | Q(pk__in=in_logs)
    )


def _rare_matches(q: str) -> list[int] | None:
    """The ids of the executions ``q`` matches (in them or in their logs) when it is rare on both
    sides; None when the newest executions show it is common, or when it matches ``COMMON_MATCHES``
    rows on either side: one probe that stops there."""
    with connection.cursor() as cursor:
        cursor.execute(SAMPLED, [q, q])
        if cursor.fetchone()[0] >= WALKABLE:
            return None
        cursor.execute(PROBE, [q, COMMON_MATCHES, q, COMMON_MATCHES])
        rows = cursor.fetchall()
    found = [0, 0]
    for side, _ in rows:
        found[side] += 1
    if max(found) >= COMMON_MATCHES:
        return None
    return sorted({pk for _, pk in rows})


def effective_cost_matches(lookup: str, value) -> Q:
    """``effective cost <lookup> value`` where the index on ``cost_usd`` can serve it: the row's own
    cost when it has no correction, else its latest correction's (corrections are few). Filtering on
    the annotated ``Coalesce(subquery, cost_usd)`` ran the subquery for every row scanned."""
    corrected = CostCorrection.objects.values("execution_id")
    latest = CostCorrection.objects.filter(
        ~Exists(CostCorrection.objects.filter(execution_id=OuterRef("execution_id"), pk__gt=OuterRef("pk"))),
        **{f"cost_usd__{lookup}": value},
    ).values("execution_id")
    return (Q(**{f"cost_usd__{lookup}": value}) & ~Q(pk__in=corrected)) | Q(pk__in=latest)


def _choices(name: str, allowed):
    valid = {value for value, _ in allowed.choices}

    def method(self, qs, field_name, value):
        wanted = [v for v in value.split(",") if v]
        bad = [v for v in wanted if v not in valid]
        if bad:
            raise InvalidParameter(name, f"Unknown value '{bad[0]}'; one of {', '.join(sorted(valid))}.")
        return qs.filter(**{f"{name}__in": wanted}) if wanted else qs

    return method


class _IdField(forms.CharField):
    def __init__(self, *, parse=parse_id, **kwargs):
        self.parse = parse
        super().__init__(**kwargs)

    def clean(self, value):
        try:
            return self.parse(super().clean(value) or None, name="value")
        except InvalidParameter as exc:
            raise forms.ValidationError(exc.message) from None


class IdFilter(django_filters.Filter):
    """An id (``mission_control.params.parse_id``): "³" or 20 digits is a 400, not a 500."""

    field_class = _IdField


def _whole(value, *, name):
    return parse_int(value, name=name, minimum=0)


class CostFilter(django_filters.NumberFilter):
    """A dollar amount the ledger's NUMERIC column can compare with (12 digits before the point)."""

    field_class = forms.DecimalField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", 20)
        kwargs.setdefault("decimal_places", 8)
        super().__init__(*args, **kwargs)


class ExecutionFilter(django_filters.FilterSet):
    """Every filter of ``GET /api/v1/executions/`` and ``/export``. Lists take commas."""

    business = django_filters.CharFilter(method="filter_business")
    agent = IdFilter(field_name="agent_id")
    status = django_filters.CharFilter(method="filter_status")
    trigger = django_filters.CharFilter(method="filter_trigger")
    model = django_filters.CharFilter(field_name="model")
    provider = django_filters.CharFilter(field_name="model_provider")
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    cron_job = IdFilter(field_name="cron_job_id")
    workflow_run = IdFilter(field_name="workflow_run_id")
    external_id = django_filters.CharFilter(field_name="external_id")
    replay_of = IdFilter(field_name="replay_of_id")
    retry_of = IdFilter(field_name="retry_of_id")
    min_cost = CostFilter(method="filter_cost", lookup_expr="gte")
    max_cost = CostFilter(method="filter_cost", lookup_expr="lte")
    min_duration_ms = IdFilter(field_name="duration_ms", lookup_expr="gte", parse=_whole)
    max_duration_ms = IdFilter(field_name="duration_ms", lookup_expr="lte", parse=_whole)
    q = django_filters.CharFilter(method="filter_q")

    filter_status = _choices("status", Status)
    filter_trigger = _choices("trigger", Trigger)

    class Meta:
        model = Execution
        fields: list[str] = []

    def filter_q(self, qs, name, value):
        return full_text(qs, value)

    def filter_business(self, qs, name, value):
        # A constant id, not a join on the slug: the planner then knows which business it reads.
        found = Business.objects.filter(slug=value).values_list("pk", flat=True).first()
        return qs.filter(business_id=found) if found is not None else qs.none()

    def filter_cost(self, qs, name, value):
        return qs.filter(effective_cost_matches(self.filters[name].lookup_expr, value))


def filter_executions(qs: QuerySet, params) -> QuerySet:
    """Apply the query-string filters to ``qs`` (which must carry ``effective_cost_usd``)."""
    filterset = ExecutionFilter(params, queryset=qs)
    if not filterset.is_valid():
        name, messages = next(iter(filterset.errors.items()))
        raise InvalidParameter(name, " ".join(str(m) for m in messages))
    return filterset.qs
