import json
import stat
from io import StringIO

import pytest

from agents import demo
from agents.models import Agent, AgentKey
from governance import demo as governance_demo
from mission_control.secrets import hash_secret

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(settings, tmp_path):
    settings.VAR_DIR = tmp_path

    def run():
        context = {"stdout": StringIO()}
        governance_demo.seed(context)
        demo.seed(context)
        return context

    return run


def test_it_seeds_the_fleet_with_working_keys_in_a_private_file(seeded, tmp_path):
    context = seeded()
    path = tmp_path / "demo_fleet.json"
    entries = json.loads(path.read_text())["agents"]
    assert len(entries) == len(demo.FLEET) == Agent.objects.count() == len(context["agents"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for entry in entries:
        key = AgentKey.objects.get(key_hash=hash_secret(entry["key"]))
        assert key.agent_id == entry["id"] and key.revoked_at is None
        assert entry["model"] and entry["provider"]


def test_it_is_idempotent_and_keeps_working_keys(seeded, tmp_path):
    seeded()
    first = json.loads((tmp_path / "demo_fleet.json").read_text())["agents"]
    seeded()
    second = json.loads((tmp_path / "demo_fleet.json").read_text())["agents"]
    assert [e["key"] for e in first] == [e["key"] for e in second]
    assert AgentKey.objects.count() == len(demo.FLEET)


def test_it_replaces_a_key_that_no_longer_works(seeded, tmp_path):
    seeded()
    path = tmp_path / "demo_fleet.json"
    entry = json.loads(path.read_text())["agents"][0]
    AgentKey.objects.filter(key_hash=hash_secret(entry["key"])).update(key_hash="x" * 64)
    seeded()
    renewed = json.loads(path.read_text())["agents"][0]
    assert renewed["key"] != entry["key"]
    assert AgentKey.objects.active().filter(agent_id=entry["id"]).count() == 1
