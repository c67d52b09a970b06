"""Workflow definitions: validated on save (400 naming the step), versioned on change."""

import pytest

from workflows.models import Workflow, WorkflowVersion

pytestmark = pytest.mark.django_db


def create(api, steps, name="flow"):
    return api.post("/api/v1/workflows/", {"business": "acme", "name": name, "definition": {"steps": steps}},
                    format="json")  # fmt: skip


def test_it_creates_a_workflow_at_version_1_with_defaults(admin_api, agent):
    response = create(
        admin_api, [{"id": "a", "agent": agent.pk}, {"id": "b", "capability": "code", "depends_on": ["a"]}]
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["version"] == 1
    step = data["definition"]["steps"][1]
    assert step["retry"] == {"max_attempts": 1, "initial_interval_s": 0, "backoff": 2.0}
    assert (step["depends_on"], step["continue_on_failure"], step["timeout_s"]) == (["a"], False, None)


@pytest.mark.parametrize(
    ("steps", "step", "words"),
    [
        ([{"id": "a", "capability": "x", "depends_on": ["b"]}, {"id": "b", "capability": "x", "depends_on": ["a"]}],
         "a", "cycle"),
        ([{"id": "a", "capability": "x", "depends_on": ["ghost"]}], "a", "unknown step 'ghost'"),
        ([{"id": "a", "capability": "x", "when": "steps.a.output ==="}], "a", "not a valid JMESPath"),
        ([{"id": "a", "capability": "x"}, {"id": "b", "capability": "x", "when": "steps.a.output.ok"}],
         "b", "without depending on it"),
        ([{"id": "a", "capability": "x", "input": {"v": {"$ref": "steps.nope.output"}}}], "a", "unknown step 'nope'"),
        ([{"id": "a", "capability": "x", "retry": {"max_attempts": 0}}], "a", "max_attempts"),
        ([{"id": "a", "capability": "x", "timeout_s": 0}], "a", "timeout_s"),
        ([{"id": "a"}], "a", "exactly one of agent"),
        ([{"id": "a", "capability": "x"}, {"id": "a", "capability": "y"}], "a", "two steps"),
        ([{"id": "a", "capability": "x", "colour": "red"}], "a", "unknown keys"),
    ],
)  # fmt: skip
def test_it_refuses_a_bad_definition_naming_the_step(admin_api, steps, step, words):
    response = create(admin_api, steps)
    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["step"]) == ("invalid_definition", step)
    assert words in body["detail"]
    assert not Workflow.objects.exists()


def test_it_refuses_an_agent_of_another_business(admin_api, make_agent, other_business):
    response = create(
        admin_api, [{"id": "a", "agent": make_agent(on=other_business, capabilities=["code"]).pk}]
    )
    assert response.status_code == 400 and response.json()["step"] == "a"


def test_a_changed_definition_makes_a_new_version_and_an_unchanged_one_does_not(admin_api, agent):
    workflow = create(admin_api, [{"id": "a", "agent": agent.pk}]).json()
    same = admin_api.patch(
        f"/api/v1/workflows/{workflow['id']}", {"definition": workflow["definition"]}, format="json"
    )
    assert same.json()["version"] == 1
    changed = admin_api.patch(
        f"/api/v1/workflows/{workflow['id']}",
        {"definition": {"steps": [{"id": "b", "agent": agent.pk}]}},
        format="json",
    )
    assert changed.json()["version"] == 2
    versions = admin_api.get(f"/api/v1/workflows/{workflow['id']}/versions").json()["results"]
    assert [v["number"] for v in versions] == [2, 1]
    assert (
        WorkflowVersion.objects.get(workflow_id=workflow["id"], number=1).definition["steps"][0]["id"] == "a"
    )


def test_operators_cannot_define_workflows(operator_api, agent):
    assert create(operator_api, [{"id": "a", "agent": agent.pk}]).status_code == 403
