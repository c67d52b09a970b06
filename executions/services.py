"""The ledger's verbs, in one place for the other apps, the API, tasks and commands.

Each lives in the module of its concept; this module is the contract other apps import:
``start_execution``, ``abort_execution`` (and ``replay_execution``, ``report_execution``...).
"""

from executions.abort import abort_execution, force_overdue_aborts
from executions.dispatch import ClaimWait, claim, claim_or_wait, deliver, redispatch_stale
from executions.hooks import configure_runs, disable_hook, rotate_hook, rotate_signing_secret, run_hook
from executions.ingestion import ingest_batch, report_execution, update_execution
from executions.lifecycle import finish, mark_running, start_execution
from executions.logs import append_logs
from executions.replays import replay_execution
from executions.timeouts import fail_overdue

__all__ = [
    "ClaimWait",
    "abort_execution",
    "append_logs",
    "claim",
    "claim_or_wait",
    "configure_runs",
    "deliver",
    "disable_hook",
    "fail_overdue",
    "finish",
    "force_overdue_aborts",
    "ingest_batch",
    "mark_running",
    "redispatch_stale",
    "replay_execution",
    "report_execution",
    "rotate_hook",
    "rotate_signing_secret",
    "run_hook",
    "start_execution",
    "update_execution",
]
