"""Price the executions whose model the price data did not know when they were recorded.

Terminal rows never change, so each newly priced execution gets a ``CostCorrection`` beside it
(the API and exports then show the corrected cost) and the difference is booked to its budgets.
Run it after upgrading genai-prices; it is idempotent (a corrected execution is skipped).
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from executions import pricing, signals
from executions.models import CostCorrection, CostSource, Execution
from governance import budgets


class Command(BaseCommand):
    help = "Recompute 'unknown' execution costs with the current price data (recorded as corrections)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be corrected; write nothing."
        )
        parser.add_argument("--business", help="Only this business (slug).")

    def handle(self, *args, dry_run: bool, business: str | None, **options):
        candidates = (
            Execution.objects.terminal()
            .filter(cost_source=CostSource.UNKNOWN, cost_corrections__isnull=True)
            .exclude(model="")
            .select_related("business")
            .order_by("id")
        )
        if business:
            candidates = candidates.filter(business__slug=business)
        version = pricing.price_data_version()
        corrected = still_unknown = 0
        for execution in candidates.iterator(chunk_size=1000):
            cost = pricing.compute(
                provider=execution.model_provider,
                model=execution.model,
                input_tokens=execution.input_tokens,
                output_tokens=execution.output_tokens,
                cache_read_tokens=execution.cache_read_tokens,
                at=execution.started_at or execution.created_at,
            )
            if cost is None:
                still_unknown += 1
                continue
            corrected += 1
            if not dry_run:
                correct(execution, cost, version)
        verb = "would correct" if dry_run else "corrected"
        self.stdout.write(
            self.style.SUCCESS(f"{verb} {corrected} execution(s); {still_unknown} still unknown ({version}).")
        )


@transaction.atomic
def correct(execution: Execution, cost, version: str) -> CostCorrection:
    correction = CostCorrection.objects.create(
        execution=execution,
        cost_usd=cost,
        cost_source=CostSource.COMPUTED,
        price_data_version=version,
        reason="The price data now knows this model.",
    )
    # The unknown cost was booked as zero: book the difference, once (the ref is the correction's).
    budgets.settle(
        business=execution.business,
        agent_id=execution.agent_id,
        ref=f"cost-correction:{correction.pk}",
        actual=cost,
        model=execution.model,
        at=execution.finished_at,  # the rollups add the correction to the execution's own hour
    )
    transaction.on_commit(
        lambda: signals.cost_corrected.send_robust(sender=CostCorrection, correction=correction)
    )
    return correction
