"""score_many on the transformers PRMs: one batched pass, the same rewards and token counts as
scoring the candidates one after another, and the cache left as that would leave it."""

from __future__ import annotations

import importlib

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from prm_fixtures import QUESTION, STEPS, reward_spec  # noqa: E402

from rewardspec.models.hf_common import resolve_source  # noqa: E402
from rewardspec.rewards.base import Candidate, score_many  # noqa: E402
from rewardspec.rewards.prm import FAMILIES, parse_prm_spec  # noqa: E402

KINDS = ["qwen-prm", "skywork-prm", "math-shepherd", "rlhflow", "orm"]
REJECTED = "Step 2: She eats 4, so 12 are left.\n\n"
# Siblings of one parent (best-of-N, process best-of-N), a repeat, and other beams' parents.
CANDIDATES = [
    Candidate(STEPS[:1], STEPS[1]),
    Candidate(STEPS[:1], REJECTED),
    Candidate(STEPS[:1], STEPS[1]),
    Candidate(STEPS[:2], STEPS[2]),
    Candidate([], STEPS[0]),
    Candidate([STEPS[0], REJECTED], "The answer is \\boxed{12}."),
]


def fresh(spec: str):
    """A new instance (make_reward caches one per spec): its own, empty KV cache."""
    family, source, options = parse_prm_spec(spec)
    fam = FAMILIES[family]
    return getattr(importlib.import_module(fam.module), fam.cls)(resolve_source(source), **options)


@pytest.fixture(scope="module", params=KINDS)
def pair(request):
    spec = reward_spec(request.param)
    return fresh(spec), fresh(spec)


def counting(reward):
    """Count the forward passes ``reward`` runs, and how many rows each had."""
    rows: list[int] = []
    forward = reward.forward

    def counted(input_ids, past, last):
        rows.append(input_ids.shape[0])
        return forward(input_ids, past, last)

    reward.forward = counted
    return rows


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_a_batch_scores_and_counts_as_one_call_per_candidate(pair, warm):
    one_by_one, batched = pair
    for reward in pair:
        reward._cache.clear()
        if warm:  # the cache holds an earlier step of this question
            reward.score(QUESTION, [], STEPS[0])
    want = [one_by_one.score(QUESTION, list(c.previous_steps), c.step) for c in CANDIDATES]
    rows = counting(batched)
    got = score_many(batched, QUESTION, CANDIDATES)
    del batched.forward
    assert max(rows) == len(CANDIDATES) and len(rows) <= 2  # one batch (after one shared-context pass)
    for g, w in zip(got, want):
        assert g.value == pytest.approx(w.value, abs=1e-5)
        assert (g.scored_tokens, g.prompt_tokens) == (w.scored_tokens, w.prompt_tokens)
    # The cache is left holding the last candidate, as one call each would leave it.
    after = [r.score(QUESTION, [STEPS[0], REJECTED], "So 12.") for r in pair]
    assert after[0].value == pytest.approx(after[1].value, abs=1e-5)
    assert (after[0].scored_tokens, after[0].prompt_tokens) == (after[1].scored_tokens, after[1].prompt_tokens)


def test_without_a_pad_id_the_candidates_are_scored_one_at_a_time(pair):
    one_by_one, batched = pair
    for reward in pair:
        reward._cache.clear()
    rows = counting(batched)
    batched.batch_pad_id = None
    try:
        got = batched.score_many(QUESTION, CANDIDATES[:3])
    finally:
        del batched.forward
        batched.batch_pad_id = type(batched).batch_pad_id if not hasattr(batched, "pad_id") else batched.pad_id
    want = [one_by_one.score(QUESTION, list(c.previous_steps), c.step) for c in CANDIDATES[:3]]
    assert rows == [1, 1, 1]
    assert [(g.scored_tokens, g.prompt_tokens) for g in got] == [(w.scored_tokens, w.prompt_tokens) for w in want]
    assert [g.value for g in got] == pytest.approx([w.value for w in want], abs=1e-5)


def test_no_candidates_run_nothing(pair):
    rows = counting(pair[1])
    assert pair[1].score_many(QUESTION, []) == []
    del pair[1].forward
    assert rows == []
