"""``manage.py rebuild_rollups [--business slug ...] [--since ISO]``: recompute rollups from the ledger."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime

from governance.models import Business
from observability.rebuild import rebuild


class Command(BaseCommand):
    help = "Recompute the hourly rollups from the execution ledger (all of it, or a business / a period)."

    def add_arguments(self, parser):
        parser.add_argument("--business", action="append", help="business slug (repeatable)")
        parser.add_argument("--since", help="ISO date or time; hours before it are kept as they are")
        parser.add_argument("--batch", type=int, help="executions (ids on PostgreSQL) per transaction")

    def handle(self, *args, business=None, since=None, batch=None, **options):
        business_ids = None
        if business:
            found = dict(Business.objects.filter(slug__in=business).values_list("slug", "pk"))
            missing = sorted(set(business) - set(found))
            if missing:
                raise CommandError(f"No such business: {', '.join(missing)}")
            business_ids = list(found.values())
        since_dt = None
        if since:
            since_dt = parse_datetime(since)
            if since_dt is None and parse_date(since):
                since_dt = parse_datetime(f"{since}T00:00:00+00:00")
            if since_dt is None:
                raise CommandError(f"--since: not an ISO date or time: {since!r}")
            if since_dt.tzinfo is None:
                raise CommandError("--since: give a time zone (e.g. 2025-01-01T00:00:00Z)")
        started = time.monotonic()
        last_shown = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last_shown[0] >= 2 or done == total:
                last_shown[0] = now
                pct = 100 * done / total if total else 100
                self.stdout.write(f"  {done:,}/{total:,} executions ({pct:.0f}%), {now - started:.0f}s")

        self.stdout.write("Rebuilding rollups…")
        counted = rebuild(business_ids=business_ids, since=since_dt, batch=batch, progress=progress)
        self.stdout.write(
            self.style.SUCCESS(f"Rolled up {counted:,} executions in {time.monotonic() - started:.1f}s.")
        )
