"""The web process's collector (mission_control/collector.py): its thresholds come from the
settings, and the start-up heap is frozen out of the full passes."""

import gc

import pytest

from mission_control import collector


@pytest.fixture
def restored():
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_it_sets_the_configured_thresholds_and_freezes_what_is_loaded(settings, restored):
    settings.MC_WEB_GC_THRESHOLD = (5000, 7, 9)
    loaded = object.__new__(type("Loaded", (), {}))  # tracked, alive through settle()
    collector.settle()
    assert gc.get_threshold() == (5000, 7, 9)
    assert gc.get_freeze_count() > 0
    assert not any(obj is loaded for obj in gc.get_objects())  # frozen: no full pass walks it
