"""Demo seed for intelligence: four days of a simulated fleet in the first demo business (incidents of
every scenario, harmless deploys, background failures), reported through the batch ingestion service
like live work, with two incidents under way now (an agent degrading, a bad deploy) and an agent that
fails at 02:00 UTC every night; then each demo
business's failure model is trained, scored and its advice refreshed through the same services as
beat and the command. A business whose history cannot train a model is told so, not given one."""

import random
from datetime import timedelta

from django.utils import timezone

from executions.demo import MODELS
from executions.models import Execution
from intelligence import scenario_history, scenarios, scoring, suggestions, training
from mission_control.errors import DomainError
from observability.rollups import catch_up

DAYS = 4
EVERY_S = 300
AGENTS = 6
KEY = "scenario"


def seed(context: dict) -> None:
    out = context["stdout"]
    businesses = context.get("businesses", [])
    if businesses:
        _history(
            businesses[0], [a for a in context.get("agents", []) if a.business_id == businesses[0].pk], out
        )
    for business in businesses:
        try:
            model, _ = training.train(business=business)
        except DomainError as exc:
            out.write(f"  {business.slug}: no failure model ({exc.detail})")
            continue
        scored = scoring.score_business(business=business)
        advice = suggestions.refresh(business=business)
        out.write(
            f"  {business.slug}: failure model v{model.version} ({model.verdict}); {scored['scored']} subjects "
            f"scored, {scored['at_risk']} at risk; {advice['found']} suggestions"
        )


def _history(business, agents, out) -> None:
    agents = sorted(agents, key=lambda a: a.pk)[:AGENTS]
    if len(agents) < 3:
        return
    if Execution.objects.filter(agent__in=agents, external_id__startswith=f"{KEY}-").exists():
        out.write("  Intelligence: kept the existing scenario history")
        return
    rng = random.Random(f"mission-control-scenarios-{business.slug}")
    fleet = [(a, *reversed(MODELS.get(a.name, ("gpt-4o-mini", "openai")))) for a in agents]
    length = DAYS * 86400
    timeline = scenarios.plan(
        [(a.name, provider) for a, provider, _ in fleet],
        length_s=length,
        rng=rng,
        incidents_per_day=3,
        quiet_end_s=4 * 3600,
    )
    # Under way now: one agent that degraded for 90 min and has been failing for 35, one whose new
    # version went out 55 min ago and whose failures have clustered for 30.
    scenarios.incident_at(timeline, "slow_degradation", agents[0].name, length - 35 * 60)
    scenarios.incident_at(timeline, "bad_deploy", agents[1].name, length - 30 * 60)
    start = timezone.now() - timedelta(seconds=length)
    # And one agent that fails most runs at 02:00 UTC, every night (the advice finds it).
    timeline.t0 = start.timestamp()
    timeline.failing_hours[agents[2].name] = (2, 0.6)
    written = scenario_history.write(
        agents=[(a, provider, model) for a, provider, model in fleet],
        timeline=timeline,
        start=start,
        every_s=EVERY_S,
        rng=rng,
        key=KEY,
        until_s=length,
    )
    # Rolled up now, as the observability seed did for the history before it (the live path rolls each
    # one up after commit through a task, which a seed does not wait for).
    catch_up(settle=timedelta(0))
    out.write(
        f"  Intelligence: {written} executions of a simulated fleet over {DAYS} days "
        f"({len(timeline.incidents)} incidents; {agents[0].name} degrading and {agents[1].name} on a bad deploy now)"
    )
