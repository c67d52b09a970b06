"""``manage.py export_archive 2024-12 [--out file]``: an archived month of the ledger as JSONL
(``{"table": ..., "row": ...}`` a line), read from its detached tables, or from the month's gzip
export when those tables have been dropped."""

import gzip
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from executions import archive
from executions.models import ArchivedMonth


class Command(BaseCommand):
    help = "Write an archived month of the ledger (executions and logs) as JSONL."

    def add_arguments(self, parser):
        parser.add_argument("month", help="YYYY-MM, or 'history'.")
        parser.add_argument("--out", default="-", help="A file (default: standard output).")

    def handle(self, *args, month, out, **options):
        found = ArchivedMonth.objects.filter(label=month).first()
        if found is None:
            labels = ", ".join(ArchivedMonth.objects.values_list("label", flat=True)) or "none"
            raise CommandError(f"{month} is not archived (archived: {labels}).")
        stream = sys.stdout if out == "-" else open(out, "w", encoding="utf-8")  # noqa: SIM115
        try:
            if found.executions_table in connection.introspection.table_names():
                rows = archive.export_archived(month, stream)
            else:
                rows = 0
                with gzip.open(found.path, "rt", encoding="utf-8") as lines:
                    for line in lines:
                        stream.write(line)
                        rows += 1
        finally:
            if stream is not sys.stdout:
                stream.close()
        self.stderr.write(f"{month}: {rows:,} rows")
