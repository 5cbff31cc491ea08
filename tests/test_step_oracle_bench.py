"""benchmarks/step_oracle.py's logic (rewardspec.analysis): the rollout oracle's labels and
decisions, the step table and the labelled steps scored afterwards."""

from __future__ import annotations

import json

import pytest

from rewardspec.analysis import step_labels
from rewardspec.analysis.rollout_oracle import RolloutOracle
from rewardspec.analysis.step_labels import score_labels, step_table
from rewardspec.eval.datasets import Example
from rewardspec.methods.base import DecodeConfig
from rewardspec.methods.rsd import RSD
from rewardspec.rewards import make_reward
from rewardspec.types import RewardScore

from fakes import ScriptedModel, TwoPlusTwoTarget


def solve(max_tokens: int = 64):
    draft = ScriptedModel("draft", ["Add 2 and 2.\n\n", "2+2=5.\n\n", "So \\boxed{4}"], params=10, tokens_per_step=3)
    target = TwoPlusTwoTarget()
    decode = DecodeConfig(max_tokens=max_tokens)
    oracle = RolloutOracle(target, decode, "gsm8k", {"arithmetic": make_reward("arithmetic")})
    oracle.start(Example("0", "What is 2 + 2?", "4", "gsm8k"))
    rsd = RSD(draft=draft, target=target, reward=oracle, delta=0.5, config=decode)
    return rsd.solve("What is 2 + 2?", on_step=oracle.decided), oracle, target


def test_the_oracle_keeps_exactly_the_steps_whose_target_rollout_succeeds():
    trace, oracle, _ = solve()
    assert [s["good"] for s in oracle.labels] == [True, False, True]
    assert [s["rollout_answer"] for s in oracle.labels] == ["4", "5", "4"]
    assert [s["rollout_tokens"] for s in oracle.labels] == [6, 3, 0]  # the last step ends the answer itself
    assert [s["rewards"]["arithmetic"] for s in oracle.labels] == [1.0, 0.0, 1.0]
    assert [(s.source, s.text) for s in trace.steps] == [
        ("draft", "Add 2 and 2.\n\n"), ("target", "2+2=4.\n\n"), ("draft", "So \\boxed{4}")]
    assert trace.answer == "4"
    assert trace.usage["reward"].params == 0  # the rollouts are not charged: a bound, not a method


def test_rollouts_stay_within_the_response_budget():
    _, _, target = solve(max_tokens=64)
    # first rollout: 64 - 3 (the draft's step) = 61, then 61 - 3 = 58 after the target's first step
    assert target.budgets[:2] == [61, 58]
    # the second draft step's rollout starts after one accepted 3-token step: 64 - 3 - 3
    assert target.budgets[2] == 58


@pytest.mark.parametrize("mode,sources,answer", [
    ("harmless", ["draft", "draft", "draft"], "4"),  # the target cannot help: keep the draft's steps
    ("good", ["target"], "5"),  # every step after a doomed prefix is bad, and rewritten to no avail
])
def test_after_a_doomed_prefix_only_the_harmless_oracle_keeps_the_draft(mode, sources, answer):
    draft = ScriptedModel("draft", ["Add 2 and 2.\n\n", "2+2=4.\n\n", "So \\boxed{4}"], params=10)
    decode = DecodeConfig(max_tokens=64)
    oracle = RolloutOracle(TwoPlusTwoTarget(always_wrong=True), decode, "gsm8k", {}, mode)
    oracle.start(Example("0", "What is 2 + 2?", "4", "gsm8k"))
    target = TwoPlusTwoTarget(always_wrong=True)
    trace = RSD(draft=draft, target=target, reward=oracle, delta=0.5, config=decode).solve(
        "What is 2 + 2?", on_step=oracle.decided)
    assert [s.source for s in trace.steps] == sources and trace.answer == answer
    if mode == "harmless":
        assert [s["good"] for s in oracle.labels] == [False, False, True]
        assert [s.get("solvable_before") for s in oracle.labels] == [False, False, None]


def test_step_table_measures_each_reward_against_the_labels():
    labels = [{"good": g, "rewards": {"r": r}} for g, r in [(True, 0.9), (True, 0.8), (False, 0.2), (False, 0.85)]]
    _, out = step_table(labels, {"r": 0.7})
    assert out["r"]["auroc"] == pytest.approx(0.75)  # bad 0.85 beats good 0.8
    assert out["r"]["good_rejected"] == 0.0 and out["r"]["bad_kept"] == 0.5
    assert out["r"]["harmful_steps"] == 0  # no step says whether its prefix was solvable


def test_harmful_steps_are_the_bad_ones_after_a_solvable_prefix():
    labels = [{"good": True, "rewards": {"r": 0.9}},
              {"good": False, "solvable_before": True, "rewards": {"r": 0.3}},   # harmful
              {"good": False, "solvable_before": True, "rewards": {"r": 0.95}},  # harmful, scored high
              {"good": False, "solvable_before": False, "rewards": {"r": 0.1}}]  # doomed already: harmless
    _, out = step_table(labels, {"r": 0.7})
    assert out["r"]["harmful_steps"] == 2 and out["r"]["harmful_kept"] == 0.5
    assert out["r"]["harmless_rejected"] == 0.5  # the doomed step scored 0.1
    # harmless 0.9 and 0.1 against harmful 0.3 and 0.95: 0.9 > 0.3, 0.1 < 0.3; both below 0.95
    assert out["r"]["auroc_harmful"] == pytest.approx(0.25)


def test_labelled_steps_are_scored_afterwards_after_the_steps_rsd_had_accepted(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from rich.console import Console

    from rewardspec.eval.runner import make_record

    trace, oracle, _ = solve()
    record = make_record(Example("0", "What is 2 + 2?", "4", "gsm8k"), trace, "gsm8k")

    class Seen:
        name, params = "seen", 0

        def __init__(self):
            self.calls = []

        def score(self, question, previous_steps, step, generation=None):
            self.calls.append(("".join(previous_steps), step, generation.generated_tokens))
            return RewardScore(0.25 * len(previous_steps))

    seen = Seen()
    draft = ScriptedModel("draft", ["x"], params=10)
    solvers = SimpleNamespace(models=SimpleNamespace(draft=draft, role_or_model=None), decode=DecodeConfig())
    by_id = {"0": oracle.labels}
    monkeypatch.setattr(step_labels, "make_reward", lambda spec, load=None: seen)
    score_labels(by_id, {"0": record}, ["seen"], solvers, tmp_path / "scores.json", Console(quiet=True))
    assert [c[:2] for c in seen.calls] == [("", "Add 2 and 2.\n\n"), ("Add 2 and 2.\n\n", "2+2=5.\n\n"),
                                           ("Add 2 and 2.\n\n2+2=4.\n\n", "So \\boxed{4}")]
    assert all(c[2] == 4 for c in seen.calls)  # the draft's own log-probabilities (ScriptedModel gives 4)
    assert [s["rewards"]["seen"] for s in oracle.labels] == [0.0, 0.25, 0.5]
    assert "0" in json.loads((tmp_path / "scores.json").read_text())["seen"]
