"""A list filtered by a business the caller cannot see answers 404, like that business's objects."""

import pytest

LISTS = [
    "/api/v1/agents/",
    "/api/v1/cron-jobs/",
    "/api/v1/epics/",
    "/api/v1/tasks/",
    "/api/v1/workflows/",
    "/api/v1/workflow-runs/",
    "/api/v1/events/",
    "/api/v1/budgets/",
    "/api/v1/executions/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", LISTS)
def test_a_list_filtered_by_another_business_is_a_404(viewer_api, other_business, path):
    assert viewer_api.get(f"{path}?business={other_business.slug}").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("path", LISTS)
def test_a_list_filtered_by_the_callers_business_answers(viewer_api, business, path):
    assert viewer_api.get(f"{path}?business={business.slug}").status_code == 200
