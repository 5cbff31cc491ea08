"""RSD's target checks the rejected draft step and keeps what it agrees with: the answer is the
one written from scratch, at temperature 0 and, draw for draw, above it.

On transformers in float32 a pass over many tokens gives the logits one pass per token gives
(to float rounding), so these tests hold texts equal exactly, for every seed; the llama.cpp tests,
where the two kinds of pass differ in their last digits, and the test of the distribution, are in
test_rewrite_reuse_llama.py.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
from prm_fixtures import checkpoint  # noqa: E402

from rewardspec.codec import trace_from_json, trace_to_json  # noqa: E402
from rewardspec.methods.base import DecodeConfig  # noqa: E402
from rewardspec.methods.rsd import RSD  # noqa: E402
from rewardspec.models import load_model  # noqa: E402
from rewardspec.rewards import make_reward  # noqa: E402

QUESTIONS = ["What is 12 * 7 - 5?", "Janet has 16 eggs and eats 3. How many are left?"]


def model(kind: str):
    return load_model(f"transformers:{checkpoint(kind)[0]}?device=cpu&dtype=float32")


@pytest.fixture(scope="module")
def target():
    return model("causal-qwen2")


@pytest.fixture(scope="module")
def other():
    return model("causal-qwen2-other")


def rsd(draft, target, **config) -> RSD:
    # "never" rejects every draft step, so every step is a rewrite the target may take from it.
    settings = dict(max_tokens=48, max_steps=4, separator="\n", system_prompt=None, rewrite_reuse=True) | config
    return RSD(draft=draft, target=target, reward=make_reward("likelihood"), rule="never",
               config=DecodeConfig(**settings))


@pytest.mark.parametrize("temperature", [0.0, 0.9])
def test_rsd_with_rewrite_reuse_writes_what_it_writes_without(target, other, temperature):
    kept = 0
    for draft in (target, other):  # a draft that agrees with the target, and one that does not
        for question in QUESTIONS:
            for seed in (0, 1):
                on = rsd(draft, target, temperature=temperature, seed=seed).solve(question)
                off = rsd(draft, target, temperature=temperature, seed=seed, rewrite_reuse=False).solve(question)
                assert [(s.text, s.source, s.generated_tokens) for s in on.steps] == \
                    [(s.text, s.source, s.generated_tokens) for s in off.steps]
                assert on.usage["target"].generated_tokens == off.usage["target"].generated_tokens
                look = on.usage["target"].lookahead
                assert look.rewrite_accepted <= look.rewrite_offered and off.usage["target"].lookahead.offered == 0
                assert on.usage["target"].prompt_tokens == off.usage["target"].prompt_tokens + look.wasted
                kept += look.rewrite_accepted
                # What a user reads back from a samples file or `solve --json`.
                assert trace_from_json(trace_to_json(on)).usage["target"].lookahead == look
    if temperature == 0:  # sampled, the draft and the target draw with different seeds: rarely a match
        assert kept > 0
