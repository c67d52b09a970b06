"""Fixtures for the board: agents of ``business`` with the capabilities a test needs."""

import pytest

from agents.services import create_agent


@pytest.fixture
def make_agent(business):
    counter = iter(range(1000))

    def make(capabilities=("code",), name=None, on=None):
        return create_agent(
            business=on or business, name=name or f"worker-{next(counter)}", capabilities=list(capabilities)
        )

    return make
