"""Every PRM family scores incrementally: same values as from scratch, fewer tokens run."""

from __future__ import annotations

import importlib

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from prm_fixtures import QUESTION, STEPS, reward_spec  # noqa: E402

from rewardspec.models.hf_common import resolve_source  # noqa: E402
from rewardspec.rewards.prm import FAMILIES, parse_prm_spec  # noqa: E402

KINDS = ["qwen-prm", "skywork-prm", "math-shepherd", "rlhflow", "orm"]
OTHER_QUESTION = "Tom reads 12 pages a day for 7 days, then 5 more. How many pages?"
OTHER_STEPS = ["He reads 12 * 7 = 84 pages.\n\n", "Then 84 + 5 = 89.\n\n", "The answer is 89."]


def fresh(spec: str, **overrides):
    """A new instance (make_reward caches one per spec): its own, empty KV cache."""
    family, source, options = parse_prm_spec(spec)
    fam = FAMILIES[family]
    cls = getattr(importlib.import_module(fam.module), fam.cls)
    return cls(resolve_source(source), **{**options, **overrides})


@pytest.fixture(scope="module", params=KINDS)
def pair(request):
    spec = reward_spec(request.param)
    return request.param, fresh(spec), fresh(spec)


def scratch_score(reward, question, previous, step):
    reward._cache.clear()
    return reward.score(question, previous, step)


def test_incremental_equals_scratch_and_runs_fewer_tokens(pair):
    kind, incremental, scratch = pair
    inc = [incremental.score(QUESTION, STEPS[:i], s) for i, s in enumerate(STEPS)]
    full = [scratch_score(scratch, QUESTION, STEPS[:i], s) for i, s in enumerate(STEPS)]
    for a, b in zip(inc, full):
        assert a.value == pytest.approx(b.value, abs=1e-5)
        assert 0.0 <= a.value <= 1.0
        assert a.scored_tokens == b.scored_tokens > 0  # the step's own tokens, either way
    # After the first call the context is cached: only the new step's tokens run.
    assert inc[0].prompt_tokens > 0
    assert all(s.prompt_tokens == 0 for s in inc[1:])
    assert all(s.prompt_tokens > 0 for s in full[1:])
    processed = sum(s.scored_tokens + s.prompt_tokens for s in inc)
    assert processed < sum(s.scored_tokens + s.prompt_tokens for s in full)
    # What was processed is the scorer's input, once; an ORM reads after the chat's
    # closing tokens, which the next step's input no longer has: those re-run.
    ids, read = incremental.encode(QUESTION, STEPS)
    tail = len(ids) - read if kind == "orm" else 0
    assert read + 1 <= processed <= read + 1 + (len(STEPS) - 1) * (tail + 1)


def test_interleaved_requests_keep_their_own_cache(pair):
    kind, incremental, scratch = pair
    incremental._cache.clear()
    for i in range(len(STEPS)):
        for question, steps in ((QUESTION, STEPS), (OTHER_QUESTION, OTHER_STEPS)):
            got = incremental.score(question, steps[:i], steps[i])
            want = scratch_score(scratch, question, steps[:i], steps[i])
            assert got.value == pytest.approx(want.value, abs=1e-5)
            if i:
                assert got.prompt_tokens == 0


def test_a_rescored_or_rejected_step_reuses_the_shared_prefix(pair):
    kind, incremental, scratch = pair
    incremental._cache.clear()
    incremental.score(QUESTION, STEPS[:1], STEPS[1])
    again = incremental.score(QUESTION, STEPS[:1], STEPS[1])  # same input: one token re-run
    assert again.scored_tokens + again.prompt_tokens == 1
    other = incremental.score(QUESTION, STEPS[:1], "Step 2: She eats 4, so 12 are left.\n\n")
    want = scratch_score(scratch, QUESTION, STEPS[:1], "Step 2: She eats 4, so 12 are left.\n\n")
    assert other.value == pytest.approx(want.value, abs=1e-5)
    # the rejected step's words shared with the new one ("Step 2: She eats ") are reused too
    assert other.prompt_tokens == 0 and 0 < other.scored_tokens < want.scored_tokens


def test_one_slot_still_scores_right():
    spec = reward_spec("qwen-prm")
    small, scratch = fresh(spec, cache_slots=1), fresh(spec)
    for i in range(2):
        for question, steps in ((QUESTION, STEPS), (OTHER_QUESTION, OTHER_STEPS)):
            got = small.score(question, steps[:i], steps[i])
            want = scratch_score(scratch, question, steps[:i], steps[i])
            assert got.value == pytest.approx(want.value, abs=1e-5)
            assert got.prompt_tokens == want.prompt_tokens  # evicted: all context re-run
