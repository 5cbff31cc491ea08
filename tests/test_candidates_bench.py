"""benchmarks/candidates.py's arithmetic (rewardspec.analysis): the draft–target line, the cascade,
a run's row and the candidate specs."""

from __future__ import annotations

import math

import pytest

from rewardspec.analysis.candidate_specs import parse_candidates
from rewardspec.analysis.draft_target_line import cascade, line_gain, run_row
from rewardspec.eval.records import SampleRecord
from rewardspec.types import DecodeStats, ModelUsage


def record(idx: str, correct: bool, flops: float, wall: float, params: int = 1,
           stats: DecodeStats | None = None) -> SampleRecord:
    """A sample costing ``flops`` (ours) and twice that with prompts, on the draft alone."""
    tokens = int(flops / (2 * params))
    usage = {"draft": ModelUsage(params=params, generated_tokens=tokens, prompt_tokens=tokens)}
    return SampleRecord(id=idx, method="x", correct=correct, steps=[], usage=usage, wall_seconds=wall,
                        stats=stats or DecodeStats())


def test_the_line_from_draft_to_target():
    draft, target = (1.0, 0.2), (3.0, 0.6)
    assert line_gain(0.2, 1.0, draft, target) == pytest.approx(0.0)
    assert line_gain(0.6, 3.0, draft, target) == pytest.approx(0.0)
    assert line_gain(0.5, 2.0, draft, target) == pytest.approx(0.1)  # the line gives 0.4 at F=2
    assert line_gain(0.3, 2.0, draft, target) == pytest.approx(-0.1)


def test_a_cascade_pays_draft_always_reward_always_target_when_flagged():
    draft = {"1": record("1", True, 10, 1), "2": record("2", False, 10, 1), "3": record("3", False, 10, 1)}
    target = {"1": record("1", True, 30, 3), "2": record("2", True, 30, 3), "3": record("3", False, 30, 3)}
    row = cascade(draft, target, {"1": False, "2": True, "3": True}, {"1": 1.0, "2": 1.0, "3": 1.0})
    assert row["n"] == 3 and row["accuracy"] == pytest.approx(2 / 3)
    assert row["flops"] == pytest.approx((11 + 41 + 41) / 3)
    assert row["flops_with_prompt"] == pytest.approx((21 + 81 + 81) / 3)
    assert row["flops_paper"] == pytest.approx((10 + 40 + 40) / 3)  # the paper charges no reward here
    assert row["wall"] == pytest.approx(1 + 4 + 4) and row["kept"] == pytest.approx(1 / 3)
    # Problems missing from any side are left out, not counted as wrong.
    assert cascade(draft, {"1": target["1"]}, {"1": True, "2": True}, {})["n"] == 1


def test_a_runs_row_costs_in_three_conventions_and_keeps_what_the_rule_kept():
    # RSD's record: the draft wrote 10 tokens, the target 5, and the reward was called 4 times.
    usage = {"draft": ModelUsage(params=1, generated_tokens=10, prompt_tokens=20),
             "target": ModelUsage(params=3, generated_tokens=5, prompt_tokens=10),
             "reward": ModelUsage(params=2, scored_tokens=6, calls=4)}
    rsd = SampleRecord(id="1", method="rsd", correct=True, steps=[], usage=usage, wall_seconds=2.0,
                       stats=DecodeStats(drafted=5, accepted=3, rejected=1, degenerate=1))
    row = run_row([rsd, record("2", False, 10, 1, stats=DecodeStats(drafted=1, accepted=1))])
    assert row["n"] == 2 and row["accuracy"] == 0.5 and row["wall"] == 3.0
    assert row["flops"] == pytest.approx((2 * (10 + 15 + 12) + 10) / 2)
    assert row["flops_paper"] == pytest.approx((2 * (10 + 15 + 8) + 10) / 2)  # one token per reward call
    assert row["flops_with_prompt"] == pytest.approx((2 * (30 + 45 + 12) + 20) / 2)
    assert row["kept"] == pytest.approx(4 / 6)  # of the judged draft steps; a loop counts as rewritten
    assert math.isnan(run_row([record("3", True, 10, 1)])["kept"])  # a single model's run judged nothing


def test_candidate_specs_parse_and_bad_ones_say_how_to_write_them():
    got = parse_candidates("a=arithmetic*likelihood-min@0.7; b=head:x?force=1@0.3/clip+2;")
    assert got == {"a": ("arithmetic*likelihood-min", 0.7, "binary", 0), "b": ("head:x?force=1", 0.3, "clip", 2)}
    assert got["a"].describe() == "arithmetic*likelihood-min @ 0.7"
    assert got["b"].describe() == "head:x?force=1 @ 0.3 /clip +2"
    for bad in ("a=@0.7", "noequals", "a=likelihood@high", "a=likelihood@0.5+two"):
        with pytest.raises(SystemExit, match="NAME=REWARD@DELTA"):
            parse_candidates(bad)
