import math
import random

import pytest

from rewardspec.errors import InvalidInputError
from rewardspec.methods.acceptance import (
    RULE_KINDS,
    RULES,
    BinaryRule,
    ClipRule,
    ConstantRule,
    RuleKind,
    SigmoidRule,
    check_delta,
    decide,
    make_rule,
)


@pytest.mark.parametrize("reward,expected", [(0.69, False), (0.7, True), (0.95, True), (0.0, False)])
def test_binary_threshold_is_inclusive(reward, expected):
    assert decide(BinaryRule(0.7), reward, random.Random(0)) is expected


def test_delta_zero_accepts_everything_and_one_only_perfect():
    rng = random.Random(0)
    assert all(decide(BinaryRule(0.0), r, rng) for r in (0.0, 0.3, 1.0))
    assert not decide(BinaryRule(1.0), 0.999, rng)
    assert decide(BinaryRule(1.0), 1.0, rng)


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan"), 2])
def test_delta_outside_unit_interval_is_an_error(bad):
    with pytest.raises(InvalidInputError, match="delta"):
        check_delta(bad)
    with pytest.raises(InvalidInputError):
        make_rule("sigmoid", bad)


def test_clip_rule_weights():
    rule = ClipRule(0.8)
    assert rule.weight(0.4) == pytest.approx(0.5)
    assert rule.weight(0.9) == 1.0
    assert ClipRule(0.0).weight(0.0) == 1.0


def test_sigmoid_rule_is_centred_on_delta_and_monotone():
    rule = SigmoidRule(0.6, sharpness=10)
    assert rule.weight(0.6) == pytest.approx(0.5)
    weights = [rule.weight(r / 10) for r in range(11)]
    assert weights == sorted(weights)


class Draws:
    """An rng that hands out the given numbers, in order, and counts how many were taken."""

    def __init__(self, *values: float) -> None:
        self.values, self.taken = list(values), 0

    def random(self) -> float:
        self.taken += 1
        return self.values.pop(0)


@pytest.mark.parametrize("rule,reward,expected", [
    (BinaryRule(0.7), 0.9, True), (BinaryRule(0.7), 0.1, False),
    (ClipRule(0.8), 0.9, True), (ClipRule(0.8), 0.0, False),
    (ConstantRule(accept=True), 0.0, True), (ConstantRule(accept=False), 1.0, False),
])
def test_a_certain_weight_takes_no_draw(rule, reward, expected):
    rng = Draws()
    assert decide(rule, reward, rng) is expected
    assert rng.taken == 0


def test_a_soft_weight_takes_one_draw_and_accepts_below_it():
    rule = ClipRule(0.8)  # ω(0.4) = 0.5
    rng = Draws(0.0, 0.49, 0.5, 0.51)
    assert [decide(rule, 0.4, rng) for _ in range(4)] == [True, True, False, False]
    assert rng.taken == 4


@pytest.mark.parametrize("rule,reward", [
    (ClipRule(0.8), 0.4), (ClipRule(0.5), 0.1), (SigmoidRule(0.6, sharpness=10), 0.75),
])
def test_soft_rule_acceptance_rate_follows_weight(rule, reward):
    weight, n = rule.weight(reward), 4000
    rng = random.Random(123)
    rate = sum(decide(rule, reward, rng) for _ in range(n)) / n
    assert abs(rate - weight) < 4 * math.sqrt(weight * (1 - weight) / n), (rate, weight)


def test_certain_decisions_leave_the_seeded_stream_alone():
    """A run repeats from its seed: decisions of weight 0 or 1 in between do not shift the draws."""
    rule = ClipRule(0.8)
    rewards = [0.4, 0.2, 0.6, 0.1, 0.7] * 10
    rng = random.Random(5)
    alone = [decide(rule, r, rng) for r in rewards]
    rng = random.Random(5)
    mixed = []
    for r in rewards:
        assert decide(rule, 0.95, rng) and not decide(rule, 0.0, rng)
        mixed.append(decide(rule, r, rng))
    assert mixed == alone
    assert True in alone and False in alone


def test_constant_rules_and_unknown_name():
    assert make_rule("always").weight(0.0) == 1.0
    assert make_rule("never").weight(1.0) == 0.0
    assert isinstance(make_rule("never"), ConstantRule)
    with pytest.raises(InvalidInputError, match="unknown acceptance rule"):
        make_rule("fuzzy", 0.5)


def test_rules_are_rows_of_one_table():
    assert RULES == ("binary", "clip", "sigmoid")  # what configs and --help offer
    assert set(RULE_KINDS) == {*RULES, "always", "never"}
    for name in RULES:
        rule = make_rule(name, 0.6)
        assert (rule.name, rule.delta) == (name, 0.6)
    assert type(make_rule("sigmoid")) is SigmoidRule and make_rule().delta == 0.7


def test_a_new_rule_is_one_row(monkeypatch):
    monkeypatch.setitem(RULE_KINDS, "half", RuleKind("half", lambda delta: ClipRule(delta, name="half")))
    rule = make_rule("half", 0.4)
    assert (rule.name, rule.weight(0.2)) == ("half", pytest.approx(0.5))
    with pytest.raises(InvalidInputError, match="delta"):
        make_rule("half", 2.0)  # δ is checked before any row builds
