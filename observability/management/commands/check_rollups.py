"""``manage.py check_rollups [--business slug ...] [--since ISO]``: do the dashboards equal the ledger?"""

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from governance.models import Business
from observability.reconcile import differences


class Command(BaseCommand):
    help = (
        "Compare every hourly and daily rollup with a sum over the ledger (counts, tokens, cost); "
        "exit 1 naming each hour or day that differs (then run rebuild_rollups --since for it)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--business", action="append", help="business slug (repeatable)")
        parser.add_argument("--since", help="ISO time with a zone (e.g. 2025-01-01T00:00:00Z)")

    def handle(self, *args, business=None, since=None, **options):
        business_ids = None
        if business:
            business_ids = list(Business.objects.filter(slug__in=business).values_list("pk", flat=True))
            if len(business_ids) != len(set(business)):
                raise CommandError("No such business among: " + ", ".join(business))
        since_dt = parse_datetime(since) if since else None
        if since and (since_dt is None or since_dt.tzinfo is None):
            raise CommandError(f"--since: not an ISO time with a zone: {since!r}")
        found = differences(business_ids=business_ids, since=since_dt)
        for difference in found:
            self.stdout.write(str(difference))
        if found:
            raise CommandError(f"{len(found)} hour(s)/day(s) differ from the ledger.", returncode=1)
        self.stdout.write(self.style.SUCCESS("The rollups equal the ledger."))
