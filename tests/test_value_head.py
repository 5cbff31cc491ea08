"""The value head: its file, its reward and its fitting, on synthetic hidden states (no models)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rewardspec.errors import InvalidInputError
from rewardspec.eval.records import SampleRecord
from rewardspec.rewards import make_reward
from rewardspec.rewards.value_head import ValueHead, shipped_heads
from rewardspec.train_reward import StepData, fit_head, step_features
from rewardspec.types import Step


class Hidden:
    """A model whose hidden state is a fixed function of the text: how many 'good' words it has."""

    params = 50

    def __init__(self, name="probe-lm", size=8):
        self.name, self.size = name, size
        self.calls: list[str] = []

    def hidden_state(self, messages, response_prefix):
        self.calls.append(response_prefix)
        vec = np.zeros(self.size)
        vec[0] = response_prefix.count("good") - response_prefix.count("bad")
        vec[1] = len(response_prefix) / 100
        return vec, 1


def solution(question: str, correct: bool, *texts: str) -> SampleRecord:
    """A draft's recorded solution of ``question``, one step per text."""
    return SampleRecord(id=question, method="draft", correct=correct, question=question,
                        steps=[Step(t, "draft", None, 1) for t in texts], usage={}, wall_seconds=0.0)


def toy_head(model="probe-lm", read="draft"):
    return ValueHead(model, read, np.zeros(8), np.ones(8), np.array([3.0] + [0.0] * 7), -1.0,
                     {"note": "test"})


def test_file_round_trip_and_probability(tmp_path):
    head = toy_head()
    path = tmp_path / "h.json"
    head.save(path)
    back = ValueHead.load(path)
    assert back.model == "probe-lm" and back.read == "draft" and back.provenance == {"note": "test"}
    hidden = np.array([1.0] + [0.0] * 7)
    assert back.probability(hidden) == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert back.probability(np.array([1e6] + [0.0] * 7)) == pytest.approx(1.0)


@pytest.mark.parametrize("content, message", [
    ("not json", "not JSON"),
    ("[1, 2]", "not a value head"),
    (json.dumps({"format": "rewardspec-value-head/1", "model": "m", "read": "draft"}), "incomplete"),
    (json.dumps({"format": "rewardspec-value-head/1", "model": "m", "read": "judge", "mean": [0],
                 "scale": [1], "weights": [1], "bias": 0}), "read must be"),
    (json.dumps({"format": "rewardspec-value-head/1", "model": "m", "read": "draft", "mean": [0, 0],
                 "scale": [1], "weights": [1], "bias": 0}), "one length"),
])
def test_bad_head_files_are_refused_in_one_line(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InvalidInputError, match=message):
        ValueHead.load(path)
    with pytest.raises(InvalidInputError, match="does not exist"):
        ValueHead.load(tmp_path / "missing.json")


def test_head_reward_reads_the_role_the_head_was_trained_on(tmp_path):
    toy_head().save(tmp_path / "h.json")
    draft = Hidden()
    asked = []

    def load(spec):
        asked.append(spec)
        return draft

    reward = make_reward(f"head:{tmp_path / 'h.json'}", load=load)
    assert asked == ["draft"]
    good = reward.score("q", ["good start\n\n"], "good step\n\n").value
    bad = reward.score("q", ["good start\n\n"], "bad step\n\n").value
    assert good > 0.99 and bad < 0.5
    assert draft.calls[-1] == "good start\n\nbad step\n\n"


def test_advantage_rewards_the_change_in_value_and_reuses_the_previous_read(tmp_path):
    toy_head().save(tmp_path / "h.json")
    draft = Hidden()
    reward = make_reward(f"head:{tmp_path / 'h.json'}?advantage=true", load=lambda spec: draft)
    assert reward.name.endswith("?advantage=true")
    sigma = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731  (the toy head: V = σ(3·(good − bad) − 1))
    drop = reward.score("q", ["good start\n\n"], "bad step\n\n")
    assert drop.value == pytest.approx(1 + sigma(-1) - sigma(2))
    assert drop.scored_tokens == 2  # V before and V after, one token each
    assert reward.score("q", ["good start\n\n"], "good step\n\n").value == 1.0  # value went up
    # After a doomed prefix a further low step loses little value: it keeps a high reward,
    # where the plain head gives it a low one.
    doomed = ["bad\n\n", "bad again\n\n"]
    plain = make_reward(f"head:{tmp_path / 'h.json'}", load=lambda spec: Hidden())
    assert plain.score("q", doomed, "bad still\n\n").value < 0.01
    assert reward.score("q", doomed, "bad still\n\n").value > 0.99
    # The next step's V before is this step's V after: read once.
    calls = len(draft.calls)
    reward.score("q", [*doomed, "bad still\n\n"], "end")
    assert draft.calls[calls:] == ["bad\n\nbad again\n\nbad still\n\nend"]
    with pytest.raises(InvalidInputError, match="advantage"):
        make_reward(f"head:{tmp_path / 'h.json'}?advantage=maybe", load=lambda spec: Hidden())


def test_head_refuses_another_model_unless_forced(tmp_path):
    toy_head(model="qwen-small").save(tmp_path / "h.json")
    with pytest.raises(InvalidInputError, match="trained on 'qwen-small'"):
        make_reward(f"head:{tmp_path / 'h.json'}", load=lambda spec: Hidden())
    forced = make_reward(f"head:{tmp_path / 'h.json'}?force=true", load=lambda spec: Hidden())
    assert forced.score("q", [], "good\n\n").value > 0.8
    small = make_reward(f"head:{tmp_path / 'h.json'}?force=true", load=lambda spec: Hidden(size=4))
    with pytest.raises(InvalidInputError, match="hidden size 8"):
        small.score("q", [], "x")
    with pytest.raises(InvalidInputError, match="unknown option"):
        make_reward(f"head:{tmp_path / 'h.json'}?layer=3", load=lambda spec: Hidden())


def test_a_model_without_hidden_states_is_refused():
    toy = toy_head()

    class NoHidden:
        name, params = "probe-lm", 1

    from rewardspec.rewards.value_head import ValueHeadReward

    with pytest.raises(InvalidInputError, match="hidden states"):
        ValueHeadReward(toy, NoHidden()).score("q", [], "x")


def test_step_features_label_every_step_with_its_solution_outcome():
    records = [solution("q1", True, "good\n\n", "\n\n", "good end"), solution("q2", False, "bad")]
    model = Hidden()
    data = step_features(records, model)
    assert data.labels.tolist() == [1, 1, 0] and data.groups.tolist() == [0, 0, 1]
    assert model.calls == ["good\n\n", "good\n\n\n\ngood end", "bad"]  # the blank step is skipped


def test_step_features_with_rollout_labels_use_the_step_label_and_keep_the_outcome():
    records = [solution("q1", False, "good\n\n", "\n\n", "bad\n\n", "bad end")]
    rollout = [[{"step": 0, "good": True, "harmful": False}, {"step": 2, "good": False, "harmful": True},
                {"step": 3, "good": False, "harmful": False}]]
    good = step_features(records, Hidden(), rollout_labels=rollout, labels="rollout")
    assert good.labels.tolist() == [1, 0, 0] and good.outcomes.tolist() == [0, 0, 0]
    harmless = step_features(records, Hidden(), rollout_labels=rollout, labels="harmless")
    assert harmless.labels.tolist() == [1, 0, 1] and harmless.harmful.tolist() == [0, 1, 0]


def test_fit_on_rollout_labels_reports_both_rollout_criteria_and_the_solution_outcome():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(50), 4)
    harmful = (rng.random(200) < 0.2).astype(int)
    good = np.where(harmful == 1, 0, (rng.random(200) < 0.6).astype(int))
    outcomes = (rng.random(50) < 0.3)[groups].astype(int)
    x = rng.normal(size=(200, 6))
    x[:, 0] -= 3.0 * harmful  # the features see the harm, not the outcome
    data = StepData(x, 1 - harmful, groups, outcomes=outcomes, good=good, harmful=harmful)
    head, metrics = fit_head(data, "m", "draft", labels="harmless")
    assert metrics["cv_harmless_auroc"] == metrics["cv_step_auroc"] > 0.9
    assert metrics["harmful_steps"] == int(harmful.sum()) and metrics["good_steps"] == int(good.sum())
    assert 0.0 < metrics["cv_good_auroc"] < 0.9
    assert metrics["cv_advantage_harmless_auroc"] > 0.75  # a drop in value marks the harmful step too
    assert metrics["right_solutions"] == int(outcomes.reshape(50, 4)[:, 0].sum())
    assert head.provenance["labels"] == "harmless"


def test_fit_learns_a_separable_signal_and_reports_grouped_cv():
    rng = np.random.default_rng(0)
    n = 240
    groups = np.repeat(np.arange(60), 4)
    outcome = rng.random(60) < 0.4
    y = outcome[groups].astype(int)
    x = rng.normal(size=(n, 16))
    x[:, 3] += 2.5 * (2 * y - 1)
    head, metrics = fit_head(StepData(x, y, groups), "m", "draft", provenance={"ids": "700-759"})
    assert metrics["cv_step_auroc"] > 0.9 and metrics["cv_solution_min_auroc"] > 0.9
    assert metrics["solutions"] == 60 and metrics["steps"] == n
    assert head.provenance["ids"] == "700-759" and head.provenance["metrics"] == metrics
    p_right = np.mean([head.probability(r) for r in x[y == 1]])
    p_wrong = np.mean([head.probability(r) for r in x[y == 0]])
    assert p_right > 0.8 > 0.2 > p_wrong
    # Noise alone: cross-validation must not find a signal that is not there.
    _, noise = fit_head(StepData(rng.normal(size=(n, 16)), y, groups), "m", "draft")
    assert noise["cv_step_auroc"] < 0.7


def test_fit_refuses_one_class():
    with pytest.raises(InvalidInputError, match="every solution is wrong"):
        fit_head(StepData(np.zeros((4, 2)), np.zeros(4, dtype=int), np.arange(4)), "m", "draft")


def test_shipped_heads_load():
    for name, path in shipped_heads().items():
        head = ValueHead.load(path)
        assert head.provenance.get("ids"), f"{name} must record what it was trained on"
        assert all(int(i) >= 700 for i in head.provenance["problems"]), "trained only on GSM8K idx >= 700"
