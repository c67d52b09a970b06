"""A batch's :class:`executions.pricing.Pricer` answers exactly what :func:`compute` answers."""

import random
from datetime import UTC, datetime

from genai_prices import data_snapshot

from executions import pricing


def cases():
    snapshot = data_snapshot.get_snapshot()
    rng = random.Random(15)
    for provider in snapshot.providers:
        for model in provider.models[:6]:
            for _ in range(3):
                inputs = rng.choice([0, 1, 7, 1200, 250_000, 3_000_000])
                yield {
                    "provider": provider.id,
                    "model": model.id,
                    "input_tokens": inputs,
                    "output_tokens": rng.choice([0, 1, 150, 90_000]),
                    "cache_read_tokens": rng.choice([0, inputs // 3, inputs]),
                    "at": rng.choice(
                        [None, datetime(2024, 3, 1, tzinfo=UTC), datetime(2025, 9, 1, tzinfo=UTC)]
                    ),
                }


def test_it_prices_every_model_as_the_full_computation_does():
    pricer = pricing.Pricer()
    checked = 0
    for case in cases():
        assert pricer.compute(**case) == pricing.compute(**case), case
        checked += 1
    assert checked > 300


def test_unknown_models_and_no_model_are_unpriced():
    pricer = pricing.Pricer()
    usage = {"input_tokens": 10, "output_tokens": 5, "cache_read_tokens": 0, "at": None}
    assert pricer.compute(provider="openai", model="no-such-model-xyz", **usage) is None
    assert pricer.compute(provider="", model="", **usage) is None
    assert pricer.compute(provider="nobody", model="gpt-4o", **usage) == pricing.compute(
        provider="nobody", model="gpt-4o", **usage
    )
