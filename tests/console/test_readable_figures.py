"""Money and time a person reads at a glance: one rule for money and one for "how long ago", lists in
the order they say, and an audit log that names its targets and shows what changed."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from console.templatetags.console import usd, when
from governance.audit import record
from governance.roles import Role
from mission_control.display import money, relative
from mission_control.models import Event

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("0.928481", "$0.93"),
        ("0.12187", "$0.12"),
        ("0.5", "$0.50"),
        ("16.88", "$16.88"),
        ("1234.5", "$1,234.50"),
        ("0.0007", "$0.0007"),
        ("0.000712", "$0.00071"),
        ("0.004999", "$0.005"),
        ("0", "$0.00"),
        (None, "—"),
    ],
)
def test_it_shows_money_by_one_rule(value, shown):
    assert money(value) == shown


def test_it_keeps_the_exact_figure_in_a_tooltip():
    assert str(usd(Decimal("0.92848100"))) == '<span class="money" title="$0.928481">$0.93</span>'
    assert str(usd(Decimal("16.88"))) == "$16.88"  # nothing hidden: no tooltip


@pytest.mark.parametrize(
    ("ago", "shown"),
    [
        (timedelta(seconds=3), "just now"),
        (timedelta(seconds=40), "40 s ago"),
        (timedelta(minutes=12, seconds=5), "12 min ago"),
        (timedelta(hours=3, minutes=59), "3 h ago"),
        (timedelta(days=2, hours=1), "2 d ago"),
        (-timedelta(minutes=5), "in 5 min"),
    ],
)
def test_it_says_how_long_ago_by_one_rule(ago, shown):
    now = timezone.now()
    assert relative(now - ago, now) == shown


def test_it_dates_moments_older_than_a_week_and_puts_the_exact_time_in_a_tooltip():
    with time_machine.travel("2026-03-20 12:00:00+00:00", tick=False):
        moment = timezone.now() - timedelta(days=10)
        assert relative(moment) == "2026-03-10"
        assert 'title="2026-03-10 12:00:00 UTC"' in str(when(moment))


def test_an_agent_silent_for_40_s_reads_40_s_ago_not_0_minutes(viewer_page, agent):
    with time_machine.travel(timezone.now(), tick=False):
        agent.last_heartbeat = timezone.now() - timedelta(seconds=40)
        agent.save(update_fields=["last_heartbeat"])
        body = viewer_page.get(f"/agents/{agent.pk}").content.decode()
    assert "40 s ago" in body
    assert "0 minutes ago" not in body


def test_the_executions_list_is_newest_created_first_as_it_says(viewer_page, agent, make_execution):
    now = timezone.now()
    recorded_late = make_execution(agent, created_at=now - timedelta(days=3))  # an import, the demo
    newest = make_execution(agent, created_at=now - timedelta(minutes=1))
    older = make_execution(agent, created_at=now - timedelta(hours=5))
    body = viewer_page.get("/global/executions").content.decode()
    shown = [int(n) for n in re.findall(r'href="/global/executions/(\d+)"', body)]
    assert shown == [newest.pk, older.pk, recorded_late.pk]
    assert "newest first" in body
    # The next page follows the same order from where the first one stopped.
    after = viewer_page.get(f"/global/executions?before={older.pk}").content.decode()
    assert [int(n) for n in re.findall(r'href="/global/executions/(\d+)"', after)] == [recorded_late.pk]


def test_the_activity_page_orders_events_by_time_and_dates_them(viewer_page, business):
    now = timezone.now()
    late = Event.objects.create(kind="execution.succeeded", business_id=business.pk, message="older, written late",
                                ts=now - timedelta(days=2))  # fmt: skip
    fresh = Event.objects.create(kind="execution.succeeded", business_id=business.pk, message="fresh", ts=now)
    body = viewer_page.get("/global/activity").content.decode()
    assert body.index("fresh") < body.index("older, written late")
    assert f'data-id="{fresh.pk}"' in body and f'data-id="{late.pk}"' in body
    assert (now - timedelta(days=2)).strftime("%b ") + str((now - timedelta(days=2)).day) + "," in body


def test_the_audit_log_names_its_target_and_shows_what_changed(page_as, business, agent):
    record(
        actor="adele",
        action="agent.update",
        business=business,
        target_type="agent",
        target_id=agent.pk,
        before={"scale": 1, "notes": "", "capabilities": ["code"]},
        after={"scale": 3, "notes": "", "capabilities": ["code", "review"]},
    )
    body = page_as(Role.ADMIN).get("/global/settings").content.decode()
    assert "agent coder-1" in body and f"agent {agent.pk}<" not in body
    assert '<span class="before">1</span> → <span class="after">3</span>' in body
    assert '<span class="before">code</span> → <span class="after">code, review</span>' in body
    assert '<span class="muted">notes</span> <span class="before">' not in body  # unchanged: not listed
    assert "{&quot;" not in body  # no raw JSON


def test_the_audit_log_names_the_rows_a_change_points_to(page_as, business, agent):
    record(actor="adele", action="cron_job.create", business=business, target_type="cron_job", target_id=99,
           after={"name": "Nightly", "agent": agent.pk})  # fmt: skip
    body = page_as(Role.ADMIN).get("/global/settings").content.decode()
    assert "cron job Nightly" in body  # gone since: named from its snapshot
    assert '<span class="muted">agent</span> <span class="after">coder-1</span>' in body
