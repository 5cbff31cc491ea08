import random

import pytest

from rewardspec.errors import InvalidInputError
from rewardspec.methods.acceptance import (
    BinaryRule, ClipRule, ConstantRule, SigmoidRule, check_delta, decide, make_rule,
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


def test_soft_rule_acceptance_rate_follows_weight_and_is_seeded():
    rule = ClipRule(0.8)
    first = [decide(rule, 0.4, random.Random(7)) for _ in range(1)]
    rng = random.Random(123)
    draws = [decide(rule, 0.4, rng) for _ in range(4000)]
    assert 0.45 < sum(draws) / len(draws) < 0.55
    rng_a, rng_b = random.Random(5), random.Random(5)
    assert [decide(rule, 0.4, rng_a) for _ in range(50)] == [decide(rule, 0.4, rng_b) for _ in range(50)]
    assert first == [decide(rule, 0.4, random.Random(7))]


def test_constant_rules_and_unknown_name():
    assert make_rule("always").weight(0.0) == 1.0
    assert make_rule("never").weight(1.0) == 0.0
    assert isinstance(make_rule("never"), ConstantRule)
    with pytest.raises(InvalidInputError, match="unknown acceptance rule"):
        make_rule("fuzzy", 0.5)
