"""What the simulated fleet says reads true: each answer answers its own prompt."""

import random

import pytest

from simulator.content import WORK, plan


@pytest.mark.parametrize("capability", sorted(WORK))
def test_each_prompt_has_its_own_answer(capability):
    prompts, _, completions = WORK[capability]
    assert len(prompts) == len(completions)


def test_a_planned_run_answers_the_prompt_it_was_given():
    rng = random.Random(7)
    for _ in range(200):
        capability = rng.choice(sorted(WORK))
        work = plan(rng, [capability], "gpt-4o", "openai", None)
        prompts, _, completions = WORK[capability]
        asked = [p for p in prompts if p.split("{n}")[0] in work["prompt"]]
        answers = [completions[prompts.index(p)] for p in asked]
        assert work["completion"] in answers and work["output"]["answer"] == work["completion"]
        if work["completion"].startswith("Label: "):  # a triage answer: its label says the same
            assert work["completion"].startswith(f"Label: {work['output']['label']}")
