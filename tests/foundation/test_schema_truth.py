"""The served schema documents errors, pages, nulls and refused fields (issue 12 item 11).

Each assertion failed on the schema served before: only 2xx documented, paginated lists shown as
one object or a bare array, nullable links shown as integers, unknown fields not said to be refused.
"""

import pytest

pytestmark = pytest.mark.django_db

PAGINATED = [
    "/api/v1/epics/",
    "/api/v1/tasks/",
    "/api/v1/tasks/{id}/comments/",
    "/api/v1/cron-jobs/",
    "/api/v1/cron-jobs/{id}/runs/",
    "/api/v1/workflows/",
    "/api/v1/workflows/{id}/runs/",
    "/api/v1/workflows/{id}/versions/",
    "/api/v1/workflow-runs/",
    "/api/v1/brain/documents/",
    "/api/v1/brain/documents/{id}/versions/",
    "/api/v1/budgets/",
    "/api/v1/auth/tokens/",
    "/api/v1/businesses/",
    "/api/v1/businesses/{slug}/members/",
    "/api/v1/agents/{id}/commands/",
    "/api/v1/agents/{id}/keys/",
]


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        return APIClient().get("/api/schema/?format=json").json()


def _resolve(schema, node):
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def test_it_documents_the_error_shape_under_every_operations_errors(schema):
    assert schema["components"]["schemas"]["Error"]["required"] == ["error", "detail"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for code in ("400", "404", "503"):
                body = operation["responses"][code]["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/Error"}, (method, path, code)
            if operation.get("security") != [{}]:
                assert {"401", "403", "429"} <= set(operation["responses"]), (method, path)
            if "requestBody" in operation:
                assert "413" in operation["responses"], (method, path)


@pytest.mark.parametrize("path", PAGINATED)
def test_it_documents_each_paginated_list_as_a_page(schema, path):
    body = _resolve(
        schema, schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    )
    assert body["type"] == "object" and body["properties"]["results"]["type"] == "array", path
    assert "next" in body["required"]


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ("Execution", "replay_of"),
        ("Execution", "retry_of"),
        ("Execution", "cron_job"),
        ("Execution", "workflow_run"),
        ("Alert", "agent"),
    ],
)
def test_it_documents_links_that_may_be_empty_as_nullable(schema, component, field):
    assert schema["components"]["schemas"][component]["properties"][field].get("nullable") is True


@pytest.mark.parametrize(
    "component", ["EpicCreateRequest", "ReportRequest", "WorkflowCreateRequest", "BudgetCreateRequest"]
)
def test_it_documents_that_request_bodies_refuse_unknown_fields(schema, component):
    assert schema["components"]["schemas"][component]["additionalProperties"] is False
