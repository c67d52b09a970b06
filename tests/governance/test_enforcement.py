from decimal import Decimal

import pytest

from governance import budgets
from governance.controls import heartbeat_flags
from governance.enforcement import check_can_start, check_usage
from governance.models import ExecutionPolicy
from governance.stops import engage_emergency_stop
from mission_control.errors import DomainError


def refusal(**kwargs) -> tuple[int, str]:
    with pytest.raises(DomainError) as refused:
        check_can_start(**kwargs)
    return refused.value.status, refused.value.code


@pytest.mark.django_db
def test_it_lets_unrestricted_work_start(business, agent, make_budget):
    make_budget("10")
    check_can_start(business=business, agent=agent, trigger="manual")


@pytest.mark.django_db
def test_an_emergency_stop_of_the_business_refuses_with_423(business, agent, other_business):
    engage_emergency_stop(business=business, reason="runaway loop", actor="system")
    assert refusal(business=business, agent=agent, trigger="manual") == (423, "emergency_stop")


@pytest.mark.django_db
def test_another_business_stop_does_not_apply(business, agent, other_business):
    engage_emergency_stop(business=other_business, reason="theirs", actor="system")
    check_can_start(business=business, agent=agent, trigger="manual")


@pytest.mark.django_db
def test_a_global_stop_refuses_everywhere(business, agent):
    engage_emergency_stop(business=None, reason="incident", actor="system")
    assert refusal(business=business, agent=agent, trigger="cron") == (423, "emergency_stop")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("policy", "attempt", "code"),
    [
        ({"allowed_triggers": ["cron"]}, {"trigger": "manual"}, "restriction_trigger"),
        ({"allowed_models": ["gpt-4o-mini"]}, {"trigger": "manual", "model": "gpt-4o"}, "restriction_model"),
        (
            {"allowed_providers": ["openai"]},
            {"trigger": "manual", "provider": "anthropic"},
            "restriction_provider",
        ),
    ],
)
def test_a_policy_violation_is_a_403_naming_the_rule(business, agent, policy, attempt, code):
    ExecutionPolicy.objects.create(business=business, agent_id=agent.pk, **policy)
    assert refusal(business=business, agent=agent, **attempt) == (403, code)


@pytest.mark.django_db
def test_the_business_policy_applies_to_every_agent(business, agent):
    ExecutionPolicy.objects.create(business=business, allowed_triggers=["cron", "workflow"])
    assert refusal(business=business, agent=agent, trigger="webhook") == (403, "restriction_trigger")
    check_can_start(business=business, agent=agent, trigger="CRON")


@pytest.mark.django_db
def test_a_run_role_holds_people_but_not_the_scheduler(business, agent, make_member):
    ExecutionPolicy.objects.create(business=business, agent_id=agent.pk, min_run_role="admin")
    operator = make_member("operator", business)
    admin = make_member("admin", business)
    assert refusal(business=business, agent=agent, trigger="manual", actor=operator) == (
        403,
        "restriction_role",
    )
    check_can_start(business=business, agent=agent, trigger="manual", actor=admin)
    check_can_start(business=business, agent=agent, trigger="cron", actor=None)


@pytest.mark.django_db
def test_an_exhausted_budget_refuses_with_402(business, agent, make_budget):
    make_budget("1", agent_id=agent.pk)
    budgets.settle(business=business, agent_id=agent.pk, ref="a", actual=Decimal("1.2"))
    assert refusal(business=business, agent=agent, trigger="manual") == (402, "budget_exceeded")


@pytest.mark.django_db
def test_a_zero_budget_refuses_from_the_start(business, agent, make_budget):
    make_budget("0")
    assert refusal(business=business, agent=agent, trigger="manual") == (402, "budget_exceeded")


@pytest.mark.django_db
def test_usage_caps_name_their_rule(business, agent):
    ExecutionPolicy.objects.create(
        business=business,
        agent_id=agent.pk,
        max_tokens_per_execution=1000,
        max_cost_per_execution_usd=Decimal("0.5"),
    )
    check_usage(business=business, agent_id=agent.pk, total_tokens=1000, cost_usd=Decimal("0.5"))
    with pytest.raises(DomainError) as refused:
        check_usage(business=business, agent_id=agent.pk, total_tokens=1001)
    assert refused.value.code == "restriction_max_tokens"
    with pytest.raises(DomainError) as refused:
        check_usage(business=business, agent_id=agent.pk, cost_usd=Decimal("0.51"))
    assert refused.value.code == "restriction_max_cost"


@pytest.mark.django_db
def test_heartbeat_flags_in_two_queries(business, agent, make_budget, django_assert_num_queries):
    make_budget("1", agent_id=agent.pk)
    with django_assert_num_queries(2):
        assert heartbeat_flags(business_id=business.pk, agent_id=agent.pk) == {
            "emergency_stop": False,
            "budget_exhausted": False,
        }
    budgets.settle(business=business, agent_id=agent.pk, ref="a", actual=Decimal("1"))
    engage_emergency_stop(business=business, reason="stop", actor="system")
    assert heartbeat_flags(business_id=business.pk, agent_id=agent.pk) == {
        "emergency_stop": True,
        "budget_exhausted": True,
    }


@pytest.mark.django_db
def test_a_business_flags_say_for_each_agent_what_its_own_query_says(business, make_agent, make_budget):
    """One query for a whole business (exhausted_budget_holders) answers each agent as
    exhausted_budget does for it alone: whole-business, per-agent, model, disabled and zero budgets."""
    from governance.controls import agent_flags, business_flags

    spent, fresh, zero, other = (make_agent() for _ in range(4))
    make_budget("1", agent_id=spent.pk)
    make_budget("5", agent_id=fresh.pk)
    make_budget("0", agent_id=zero.pk)
    make_budget("0.5", model="gpt-4o")  # a model's budget: not the heartbeat's flag
    disabled = make_budget("0", agent_id=other.pk)
    disabled.enabled = False
    disabled.save()
    budgets.settle(business=business, agent_id=spent.pk, ref="a", actual=Decimal("1"))
    budgets.settle(business=business, agent_id=fresh.pk, ref="b", actual=Decimal("1"), model="gpt-4o")

    def each() -> dict:
        flags = business_flags(business.pk)
        return {a.pk: agent_flags(flags, a.pk)["budget_exhausted"] for a in (spent, fresh, zero, other)}

    def alone() -> dict:
        return {
            a.pk: budgets.exhausted_budget(business_id=business.pk, agent_id=a.pk) is not None
            for a in (spent, fresh, zero, other)
        }

    assert each() == alone() == {spent.pk: True, fresh.pk: False, zero.pk: True, other.pk: False}
    make_budget("2")  # the whole business's, already past its limit
    budgets.settle(business=business, agent_id=other.pk, ref="c", actual=Decimal("2"))
    assert each() == alone() == dict.fromkeys((spent.pk, fresh.pk, zero.pk, other.pk), True)
