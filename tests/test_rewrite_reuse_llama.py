"""Checked proposals on the real GGUF models (llama.cpp on the CPU).

llama.cpp computes a pass over many tokens with other kernels than a pass over one, and on
these quantized models their logits differ by up to about half a logit. So a greedy step
written with proposals is the step written without them, except where the two runs part at a
near tie: these tests hold that, by computing, one token at a time as plain decoding does, the
margin between the two tokens where they part. A wrong KV cache or a kept token the model would
not have chosen parts them where the model was sure, and fails.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import chi2_contingency

from rewardspec.models import load_model
from rewardspec.models.base import SamplingParams
from rewardspec.prompts import build_messages

pytestmark = pytest.mark.models

NEAR_TIE = 2.0
"""Logits: twice the largest difference measured between the two kinds of pass, and then some."""
QUESTIONS = ["Tom has 4 bags with 6 marbles each. He gives away 5 marbles. How many marbles does he have left?",
             "A train travels 60 km per hour for 3 hours, then 40 km per hour for 2 hours. How far does it go?"]


@pytest.fixture(scope="module")
def tiny():
    return load_model("smollm2-135m")


@pytest.fixture(scope="module")
def small():
    return load_model("qwen2.5-coder-0.5b")


def step(model, messages, prefix: str, sampling: SamplingParams):
    model.forget_cache()
    return model.generate_step(messages, prefix, sampling)


def margin_where_they_part(model, messages, prefix: str, plain: list[int], other: list[int]) -> float | None:
    """None when the two token lists are equal; else, at the first token where they differ, how
    much the plain run preferred its token, decoding one token at a time as it did."""
    j = next((i for i, (a, b) in enumerate(zip(plain, other)) if a != b), None)
    if j is None:
        return None if len(plain) == len(other) else 0.0  # one stopped where the other went on
    model.forget_cache()
    model._sync(model._tokens(messages, prefix))
    for token in plain[:j]:
        model.llm.eval([token])
    logits = model._last_logits()
    return float(logits[plain[j]] - logits[other[j]])


def one_number_changed(text: str) -> str:
    return re.sub(r"\d+", lambda m: str(int(m.group()) + 1), text, count=1) if re.search(r"\d", text) else text + " 7"


def test_greedy_steps_with_proposals_are_the_plain_steps_up_to_near_ties(tiny, small):
    identical, kept, parted_at = 0, 0, []
    cases = 0
    for question in QUESTIONS:
        messages = build_messages(question)
        greedy = SamplingParams(max_tokens=48)
        draft_step = step(tiny, messages, "", greedy).text  # another model's step, its own tokenizer
        for model in (tiny, small):
            plain = step(model, messages, "", greedy)
            for proposal, lookup in ((plain.text, 0), (one_number_changed(plain.text), 0), (draft_step, 0),
                                     ("", 2), (one_number_changed(plain.text), 2)):
                gen = step(model, messages, "", replace(greedy, proposal=proposal, prompt_lookup=lookup))
                cases += 1
                margin = margin_where_they_part(model, messages, "", plain.token_ids, gen.token_ids)
                if margin is None:
                    identical += 1
                    assert gen.text == plain.text
                else:
                    parted_at.append(margin)
                    assert 0.0 <= margin < NEAR_TIE, f"parted where the model was sure: {margin:.2f} logits"
                kept += gen.lookahead.accepted
    assert identical >= cases * 2 // 3, f"only {identical} of {cases} identical; parted at margins {parted_at}"
    assert kept > 0


def test_a_rewrite_of_the_models_own_step_is_taken_whole(tiny):
    messages = build_messages(QUESTIONS[0])
    plain = step(tiny, messages, "", SamplingParams(max_tokens=48))
    gen = step(tiny, messages, "", SamplingParams(max_tokens=48, proposal=plain.text))
    if gen.text == plain.text:  # on a near tie the two may part; then the test above speaks
        look = gen.lookahead
        assert look.rewrite_accepted == len(gen.token_ids) - 1 and look.ngram_offered == 0
        assert look.verify_passes == -(-(len(gen.token_ids) - 1) // tiny.lookahead_shape.chunk)


def test_a_sampled_step_with_a_proposal_has_the_distribution_of_one_without(tiny):
    """Two independent samples of the step's first tokens (disjoint seeds), written from scratch
    and checking a proposal, are not told apart by a chi-square test of homogeneity."""
    messages = build_messages(QUESTIONS[0])
    base = SamplingParams(max_tokens=3, temperature=1.0)
    proposal = step(tiny, messages, "", replace(base, max_tokens=16, temperature=0.0)).text
    n = 200  # the prompt stays cached between draws: each costs a few single tokens
    scratch = Counter(tiny.generate_step(messages, "", replace(base, seed=s)).text for s in range(n))
    checked, kept = Counter(), 0
    for s in range(n, 2 * n):
        gen = tiny.generate_step(messages, "", replace(base, seed=s, proposal=proposal))
        checked[gen.text] += 1
        kept += gen.lookahead.rewrite_accepted
    common = [t for t in scratch if scratch[t] + checked[t] >= 10]
    table = np.array([[scratch[t] for t in common] + [n - sum(scratch[t] for t in common)],
                      [checked[t] for t in common] + [n - sum(checked[t] for t in common)]])
    table = table[:, table.sum(axis=0) > 0]
    assert table.shape[1] >= 3, "the test needs a spread of outcomes"
    assert chi2_contingency(table).pvalue > 0.001
    assert kept > n // 4  # the proposal was taken in many draws: the check was exercised
