"""``manage.py train_failure_model [--business SLUG]``: train now, print the metrics beside the
baseline's. Idempotent: a business whose ledger has not changed since its newest version keeps it."""

from django.core.management.base import BaseCommand, CommandError

from governance.models import Business
from intelligence import training
from mission_control.errors import DomainError

BAR = 30


class Command(BaseCommand):
    help = (
        "Train the failure-prediction model of each business (or one) and print its metrics vs the baseline."
    )

    def add_arguments(self, parser):
        parser.add_argument("--business", default="", help="slug of one business (default: every business)")

    def handle(self, *args, business, verbosity, **options):
        businesses = Business.objects.order_by("pk")
        if business:
            businesses = businesses.filter(slug=business)
            if not businesses.exists():
                raise CommandError(f"No business with slug {business!r}.")
        refused = 0
        for one in businesses:
            self.stdout.write(f"{one.slug}:")
            try:
                model, created = training.train(
                    business=one, **({"progress": self._progress} if verbosity else {})
                )
            except DomainError as exc:
                self._end_bar()
                self.stdout.write(self.style.WARNING(f"  not trained: {exc.detail}"))
                refused += 1
                continue
            self._end_bar()
            self._report(model, created)
        if business and refused:
            raise CommandError("The business could not be trained (see above).")

    def _progress(self, stage: str, done: int, total: int) -> None:
        filled = int(BAR * done / total) if total else BAR
        label = "features per agent" if stage == "features" else "fitting"
        self.stdout.write(f"\r  {label:<18} [{'#' * filled}{'.' * (BAR - filled)}] {done}/{total}", ending="")
        self.stdout.flush()
        self._bar_open = True

    def _end_bar(self) -> None:
        if getattr(self, "_bar_open", False):
            self.stdout.write("")
            self._bar_open = False

    def _report(self, model, created: bool) -> None:
        m, b = model.metrics, model.baseline_metrics
        what = "trained" if created else "unchanged ledger: kept"
        self.stdout.write(
            f"  {what} v{model.version}: {model.train_samples} samples before {model.split_at:%Y-%m-%d %H:%M}, "
            f"{model.test_samples} after (threshold {model.threshold:.2f})"
        )
        self.stdout.write(f"  {'':<10}{'ROC AUC':>9}{'precision':>11}{'recall':>8}{'Brier':>8}{'flagged':>9}")
        for name, row in (("model", m), ("baseline", b)):
            self.stdout.write(
                f"  {name:<10}{row['roc_auc']:>9.3f}{row['precision']:>11.3f}{row['recall']:>8.3f}"
                f"{row['brier']:>8.3f}{row['flagged']:>9}"
            )
        style = self.style.SUCCESS if model.in_use else self.style.WARNING
        self.stdout.write(style(f"  {model.verdict}"))
