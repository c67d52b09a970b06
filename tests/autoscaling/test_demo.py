from io import StringIO

import pytest

from agents import demo as agents_demo
from autoscaling import demo
from autoscaling.models import AutoscalePolicy
from governance import demo as governance_demo
from workflows.models import CronJob

pytestmark = pytest.mark.django_db


def test_it_enables_the_support_agents_policies_and_the_bursty_job_once(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    context = {"stdout": StringIO()}
    governance_demo.seed(context)
    agents_demo.seed(context)
    demo.seed(context)
    demo.seed(context)  # idempotent
    assert sorted(AutoscalePolicy.objects.filter(enabled=True).values_list("agent__name", flat=True)) == [
        "support-writer",
        "triage-bot",
    ]
    job = CronJob.objects.get(name=demo.BURST_NAME)
    assert job.schedule == "*/10 * * * *" and len(job.workflow.definition["steps"]) == demo.BURST_STEPS
