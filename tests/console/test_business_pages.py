"""/<business>/board, /<business>/epics and /<business>/overview."""

import pytest

from board.services import create_epic, create_task

pytestmark = pytest.mark.django_db

PAGES = ["board", "epics", "overview"]


@pytest.fixture
def epic(business):
    return create_epic(business=business, title="Launch v2")


@pytest.mark.parametrize("name", PAGES)
def test_each_page_renders_for_a_member(viewer_page, name):
    assert viewer_page.get(f"/acme/{name}").status_code == 200


@pytest.mark.parametrize("name", PAGES)
def test_each_page_answers_404_for_another_business(viewer_page, other_business, name):
    assert viewer_page.get(f"/globex/{name}").status_code == 404
    assert viewer_page.get(f"/no-such-business/{name}").status_code == 404


@pytest.mark.parametrize("name", PAGES)
def test_each_page_sends_anonymous_visitors_to_sign_in(client, business, name):
    assert client.get(f"/acme/{name}").status_code == 302


def test_the_board_puts_tasks_in_their_columns_and_shows_dependencies(viewer_page, business, agent, epic):
    first = create_task(business=business, title="Write the spec", epic=epic)
    second = create_task(business=business, title="Build it", assignee=agent, blocked_by=[first.pk])
    body = viewer_page.get("/acme/board").content.decode()
    assert "Write the spec" in body and "Build it" in body
    assert f'blocked by <a href="#task-{first.pk}">#{first.pk}</a>' in body
    assert f'blocks <a href="#task-{second.pk}">#{second.pk}</a>' in body


def test_the_board_filters_by_epic_and_assignee(viewer_page, business, agent, epic):
    create_task(business=business, title="In the epic", epic=epic)
    create_task(business=business, title="Outside it")
    body = viewer_page.get(f"/acme/board?epic={epic.pk}").content.decode()
    assert "In the epic" in body and "Outside it" not in body


def test_viewers_cannot_drag(viewer_page, page_as, business):
    create_task(business=business, title="t")
    assert 'draggable="true"' not in viewer_page.get("/acme/board").content.decode()
    assert 'draggable="true"' in page_as("operator").get("/acme/board").content.decode()


def test_the_board_costs_a_fixed_number_of_queries(
    viewer_page, business, agent, epic, django_assert_max_num_queries
):
    previous = None
    for i in range(30):
        task = create_task(
            business=business,
            title=f"t{i}",
            epic=epic,
            assignee=agent,
            blocked_by=[previous.pk] if previous else [],
        )
        previous = task
    with django_assert_max_num_queries(15):
        assert viewer_page.get("/acme/board").status_code == 200


def test_epics_show_progress(viewer_page, business, epic):
    done = create_task(business=business, title="a", epic=epic)
    create_task(business=business, title="b", epic=epic)
    from board.services import update_task

    update_task(task=done, status="done")
    body = viewer_page.get("/acme/epics").content.decode()
    assert "Launch v2" in body
    assert "1 / 2" in body
    assert 'aria-valuenow="50"' in body


def test_overview_shows_the_business_at_a_glance(viewer_page, business, agent, epic):
    create_task(business=business, title="t", epic=epic)
    body = viewer_page.get("/acme/overview").content.decode()
    assert "Launch v2" in body
    assert "coder-1" in body
    assert "task.created" in body or "epic.created" in body
