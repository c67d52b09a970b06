"""A ledger row written out by the one shared serializer is what a fresh serializer writes, and a
new report's answer (written from the row in hand) is what reading the row back shows."""

from decimal import Decimal

import pytest

from executions.api.serializers import ExecutionSerializer, execution_body
from executions.models import CostCorrection, Execution

pytestmark = pytest.mark.django_db


def test_the_shared_serializer_writes_what_a_fresh_one_writes(agent_api):
    report = {
        "status": "failed",
        "model": "gpt-4o",
        "input_tokens": 10,
        "error": "x",
        "input": {"b": 1, "a": [2]},
    }
    created = agent_api.post("/api/v1/executions/", report, format="json")
    assert created.status_code == 201
    answered = created.json()
    assert agent_api.get(f"/api/v1/executions/{answered['id']}").json() == answered

    row = Execution.objects.get(pk=answered["id"])
    CostCorrection.objects.create(
        execution=row, cost_usd=Decimal("1.5"), cost_source="computed", price_data_version="t", reason="t"
    )
    for instance in (row, Execution.objects.select_related("business").get(pk=row.pk)):
        assert execution_body(instance) == ExecutionSerializer(instance).data
    read = agent_api.get(f"/api/v1/executions/{row.pk}").json()
    assert (read["cost_usd"], read["cost_source"], read["cost_corrected"]) == ("1.50000000", "computed", True)
    assert {k: v for k, v in read.items() if not k.startswith("cost")} == {
        k: v for k, v in answered.items() if not k.startswith("cost")
    }
