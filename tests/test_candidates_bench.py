"""benchmarks/candidates.py's arithmetic: the draft–target line, the cascade, the candidate specs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from rewardspec.eval.records import SampleRecord

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "candidates.py"
spec = importlib.util.spec_from_file_location("candidates_benchmark", SCRIPT)
bench = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = bench
spec.loader.exec_module(bench)


def record(idx: str, correct: bool, flops: float, wall: float, params: float = 1.0) -> SampleRecord:
    usage = {"draft": {"params": params, "generated_tokens": flops / (2 * params)}}
    return SampleRecord(id=idx, method="x", correct=correct, steps=[], usage=usage, flops=flops,
                        flops_with_prompt=2 * flops, wall_seconds=wall)


def test_the_line_from_draft_to_target():
    draft, target = (1.0, 0.2), (3.0, 0.6)
    assert bench.line_gain(0.2, 1.0, draft, target) == pytest.approx(0.0)
    assert bench.line_gain(0.6, 3.0, draft, target) == pytest.approx(0.0)
    assert bench.line_gain(0.5, 2.0, draft, target) == pytest.approx(0.1)  # the line gives 0.4 at F=2
    assert bench.line_gain(0.3, 2.0, draft, target) == pytest.approx(-0.1)


def test_a_cascade_pays_draft_always_reward_always_target_when_flagged():
    draft = {"1": record("1", True, 10, 1), "2": record("2", False, 10, 1), "3": record("3", False, 10, 1)}
    target = {"1": record("1", True, 30, 3), "2": record("2", True, 30, 3), "3": record("3", False, 30, 3)}
    row = bench.cascade(draft, target, {"1": False, "2": True, "3": True}, {"1": 1.0, "2": 1.0, "3": 1.0})
    assert row["n"] == 3 and row["accuracy"] == pytest.approx(2 / 3)
    assert row["flops"] == pytest.approx((11 + 41 + 41) / 3)
    assert row["flops_with_prompt"] == pytest.approx((21 + 81 + 81) / 3)
    assert row["wall"] == pytest.approx(1 + 4 + 4) and row["kept"] == pytest.approx(1 / 3)
    # Problems missing from any side are left out, not counted as wrong.
    assert bench.cascade(draft, {"1": target["1"]}, {"1": True, "2": True}, {})["n"] == 1


def test_candidate_specs_parse_and_bad_ones_say_how_to_write_them():
    got = bench.parse_candidates("a=arithmetic*likelihood-min@0.7; b=head:x?force=1@0.3/clip+2;")
    assert got == {"a": ("arithmetic*likelihood-min", 0.7, "binary", 0), "b": ("head:x?force=1", 0.3, "clip", 2)}
    for bad in ("a=@0.7", "noequals", "a=likelihood@high", "a=likelihood@0.5+two"):
        with pytest.raises(SystemExit, match="NAME=REWARD@DELTA"):
            bench.parse_candidates(bad)
