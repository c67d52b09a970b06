"""What a run of an agent is expected to cost: the amount held against budgets when it starts.

The one estimator (issue 14): the ledger's own figures, so governance is told an amount and never
guesses one. ``budgets.reserve`` takes it as a required argument.
"""

import math
from decimal import Decimal

from agents.models import Agent
from executions.models import Execution
from governance import budgets

ESTIMATE_SAMPLE = 50  # recent runs whose p90 cost is held when the agent declares no maximum


def estimate_for(agent: Agent) -> Decimal:
    """The execution policy's cap, else the agent's declared maximum per execution, else the 90th
    percentile of its last runs' costs (one outlier does not block a budget), else nothing."""
    cap = budgets.policy_cost_cap(business_id=agent.business_id, agent_id=agent.pk)
    if cap is not None:
        return cap
    if agent.max_cost_per_execution_usd is not None:
        return Decimal(agent.max_cost_per_execution_usd)
    costs = sorted(
        Execution.objects.terminal()
        .filter(agent_id=agent.pk)
        .order_by("-id")
        .values_list("cost_usd", flat=True)[:ESTIMATE_SAMPLE]
    )
    if not costs:
        return Decimal(0)
    return costs[max(0, math.ceil(0.9 * len(costs)) - 1)]
