"""`rewardspec solve` as users run it, with the tiny real model as draft and target."""

from __future__ import annotations

import json

import pytest
from processes import run_cli

pytestmark = pytest.mark.models

ARGS = ["solve", "What is 12 * 7 - 5?", "--draft", "tiny", "--target", "tiny", "--reward", "likelihood",
        "--delta", "0.6", "--max-tokens", "48"]


def test_solve_prints_the_steps_the_decisions_and_the_cost():
    proc = run_cli(ARGS)
    assert proc.returncode == 0, proc.stderr
    assert "Answer:" in proc.stdout and "draft steps judged:" in proc.stdout and "cost of rsd" in proc.stdout


def test_solve_json_is_the_trace_in_the_shared_layout():
    proc = run_cli([*ARGS, "--json"])
    assert proc.returncode == 0, proc.stderr
    trace = json.loads(proc.stdout)
    stats, steps = trace["stats"], trace["steps"]
    assert stats["drafted"] >= stats["accepted"] + stats["rejected"] + stats["degenerate"] > 0
    assert stats["accepted"] == sum(s["source"] == "draft" and s["reward"] is not None for s in steps)
    assert stats["rejected"] + stats["degenerate"] == sum(s["rejected_draft"] is not None for s in steps)
    assert trace["text"] == "".join(s["text"] for s in steps) and all("generated_tokens" in s for s in steps)


def test_the_demo_with_another_reward_quotes_no_measurement():
    proc = run_cli(["demo", "--draft", "tiny", "--target", "tiny", "--reward", "likelihood", "--problems", "0"])
    assert proc.returncode == 0, proc.stderr
    out = " ".join(proc.stdout.split())
    assert "No measurement in docs/results/ for this configuration" in out and "reward likelihood" in out
    assert "Measured for this configuration" not in out
