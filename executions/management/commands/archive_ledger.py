"""``manage.py archive_ledger --before 2025-01``: export, verify and detach whole months of the ledger.

Each month entirely before the given one (the ``history`` partition first) goes to
``<MC_ARCHIVE_DIR>/ledger-<month>.jsonl.gz``, is read back and compared with the ledger (counts,
cost and token sums, min/max id), and only then detached (executions/archive.py). Exit 1 with
nothing detached for the month that fails; the months before it stay archived.
"""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from executions import archive


def month(value: str) -> datetime:
    try:
        parsed = datetime.strptime(value, "%Y-%m")
    except ValueError as bad:
        raise CommandError(f"--before takes YYYY-MM, not {value!r}.") from bad
    return parsed.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Archive whole months of the ledger before YYYY-MM: export to gzip JSONL, verify, detach."

    def add_arguments(self, parser):
        parser.add_argument("--before", required=True, help="YYYY-MM: months before this one are archived.")
        parser.add_argument("--dir", default=None, help="Where the exports go (default MC_ARCHIVE_DIR).")

    def handle(self, *args, before, dir, **options):
        cut = month(before)
        try:
            done = archive.archive_before(cut, dir, say=self.stdout.write)
        except archive.ArchiveError as refused:
            raise CommandError(str(refused)) from refused
        if not done:
            self.stdout.write(f"Nothing to archive before {before}.")
