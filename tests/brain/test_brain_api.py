"""The brain: documents agents and people write, versioned, tagged, scoped, searchable."""

import pytest

from agents.services import create_agent
from brain.models import BrainDocument, BrainVersion
from brain.services import write_document
from mission_control.models import AppendOnlyError, Event
from tests.conftest import agent_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/brain/documents"


def test_an_operator_writes_a_shared_document(operator_api, business):
    response = operator_api.post(
        URL,
        {
            "business": "acme",
            "key": "runbooks/deploy",
            "title": "Deploy",
            "body": "Roll out slowly.",
            "tags": ["ops"],
        },
        format="json",
    )
    assert response.status_code == 201
    document = BrainDocument.objects.get(pk=response.json()["id"])
    assert (document.agent_id, document.version, document.tags) == (None, 1, ["ops"])
    assert BrainVersion.objects.filter(document=document).count() == 1
    assert Event.objects.filter(kind="brain.document_created", business_id=business.pk).exists()


def test_an_agent_writes_its_own_memory_with_its_key(agent_api, agent):
    response = agent_api.post(
        URL,
        {"agent": agent.pk, "key": "memory/user-7", "title": "User 7", "body": "Prefers email."},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["agent"] == agent.pk
    assert response.json()["business"] == "acme"


def test_an_agent_cannot_write_another_agents_memory(agent_api, business):
    other = create_agent(business=business, name="other")
    response = agent_api.post(URL, {"agent": other.pk, "key": "k", "title": "t"}, format="json")
    assert response.status_code == 400
    assert "agent" in response.json()["fields"]


def test_an_agent_never_reads_another_agents_memory(agent_api, business, agent):
    other = create_agent(business=business, name="other")
    private = write_document(business=business, agent=other, key="secret", title="Theirs")
    shared = write_document(business=business, key="shared", title="Everyone's")
    assert agent_api.get(f"{URL}/{private.pk}").status_code == 404
    keys = [d["key"] for d in agent_api.get(URL).json()["results"]]
    assert keys == ["shared"]
    assert agent_api.get(f"{URL}/{shared.pk}").status_code == 200


def test_a_viewer_reads_but_does_not_write(viewer_api, business):
    document = write_document(business=business, key="k", title="t")
    assert viewer_api.get(f"{URL}/{document.pk}").status_code == 200
    assert viewer_api.patch(f"{URL}/{document.pk}", {"body": "x"}, format="json").status_code == 403
    assert (
        viewer_api.post(URL, {"business": "acme", "key": "k2", "title": "t"}, format="json").status_code
        == 403
    )


def test_another_business_s_documents_are_404(viewer_api, other_business):
    theirs = write_document(business=other_business, key="k", title="Theirs")
    assert viewer_api.get(f"{URL}/{theirs.pk}").status_code == 404
    assert viewer_api.get(f"{URL}?business=globex").status_code == 404
    assert viewer_api.get(URL).json()["results"] == []


def test_every_change_is_a_new_version_and_old_ones_are_kept(operator_api, business):
    document = write_document(business=business, key="k", title="One", body="first")
    response = operator_api.patch(f"{URL}/{document.pk}", {"body": "second", "tags": ["b"]}, format="json")
    assert response.status_code == 200
    assert response.json()["version"] == 2
    versions = operator_api.get(f"{URL}/{document.pk}/versions").json()["results"]
    assert [(v["number"], v["body"]) for v in versions] == [(2, "second"), (1, "first")]


def test_an_unchanged_write_makes_no_version(operator_api, business):
    document = write_document(business=business, key="k", title="One", body="same")
    assert operator_api.patch(f"{URL}/{document.pk}", {"body": "same"}, format="json").json()["version"] == 1


def test_a_stale_expected_version_is_a_409_and_changes_nothing(operator_api, business):
    document = write_document(business=business, key="k", title="One", body="first")
    operator_api.patch(f"{URL}/{document.pk}", {"body": "second"}, format="json")
    response = operator_api.patch(
        f"{URL}/{document.pk}", {"body": "mine", "expected_version": 1}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"] == "version_conflict"
    document.refresh_from_db()
    assert (document.body, document.version) == ("second", 2)


def test_a_key_is_unique_within_its_scope(operator_api, business, agent):
    write_document(business=business, key="notes", title="Shared")
    write_document(business=business, agent=agent, key="notes", title="Agent's own")  # another scope
    response = operator_api.post(URL, {"business": "acme", "key": "notes", "title": "Again"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"] == "key_taken"


def test_it_searches_full_text_and_filters_by_tag(viewer_api, business):
    write_document(
        business=business,
        key="a",
        title="Refund policy",
        body="Customers get refunds within 30 days",
        tags=["support"],
    )
    write_document(business=business, key="b", title="Deploy", body="Blue green", tags=["ops"])
    assert [d["key"] for d in viewer_api.get(f"{URL}?q=refunds").json()["results"]] == ["a"]
    assert [d["key"] for d in viewer_api.get(f"{URL}?tag=ops").json()["results"]] == ["b"]


def test_versions_are_append_only(business):
    document = write_document(business=business, key="k", title="t")
    version = document.versions.get()
    version.body = "rewritten"
    with pytest.raises(AppendOnlyError):
        version.save()


@pytest.mark.postgres
def test_the_database_refuses_to_rewrite_a_version(business):
    from django.db import IntegrityError, connection, transaction

    document = write_document(business=business, key="k", title="t")
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE agents_brainversion SET body = 'x' WHERE document_id = %s", [document.pk])


def test_an_agent_of_another_business_sees_nothing(business, other_business):
    stranger = create_agent(business=other_business, name="stranger")
    mine = write_document(business=business, key="k", title="t")
    client = agent_client(stranger)
    assert client.get(f"{URL}/{mine.pk}").status_code == 404
    assert client.get(URL).json()["results"] == []
