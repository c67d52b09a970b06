"""/global/brain."""

import pytest

from brain.services import update_document, write_document

pytestmark = pytest.mark.django_db


def test_it_lists_searches_and_shows_a_document_with_its_versions(viewer_page, business, agent):
    document = write_document(
        business=business, key="runbooks/deploy", title="Deploy", body="Blue green", tags=["ops"]
    )
    update_document(document=document, body="Blue green, then canary")
    write_document(business=business, agent=agent, key="memory", title="Coder notes", body="Prefers tabs")
    body = viewer_page.get(f"/global/brain?q=canary&doc={document.pk}").content.decode()
    assert "Blue green, then canary" in body
    assert "v2" in body and "v1" in body
    assert "Coder notes" not in body  # filtered out by the search


def test_it_never_shows_another_business_s_documents(viewer_page, other_business):
    theirs = write_document(business=other_business, key="k", title="Their secret")
    assert "Their secret" not in viewer_page.get("/global/brain").content.decode()
    assert viewer_page.get(f"/global/brain?doc={theirs.pk}").status_code == 404


def test_editing_is_for_operators_and_guards_the_version(page_as, business):
    document = write_document(business=business, key="k", title="t")
    assert (
        'name="expected_version" value="1"'
        in page_as("operator").get(f"/global/brain?doc={document.pk}").content.decode()
    )
    assert (
        "expected_version" not in page_as("viewer").get(f"/global/brain?doc={document.pk}").content.decode()
    )


def test_it_costs_a_fixed_number_of_queries(viewer_page, business, agent, django_assert_max_num_queries):
    documents = [
        write_document(
            business=business, agent=agent if i % 2 else None, key=f"k{i}", title=f"t{i}", tags=["x"]
        )
        for i in range(30)
    ]
    with django_assert_max_num_queries(10):
        assert viewer_page.get(f"/global/brain?doc={documents[0].pk}").status_code == 200
