import math

import pytest
from fakes import ScriptedModel

from rewardspec.errors import InvalidInputError
from rewardspec.rewards import make_reward
from rewardspec.rewards.likelihood import LikelihoodReward, likelihood_to_reward
from rewardspec.types import Generation


def test_mapping_is_geometric_mean_probability():
    assert likelihood_to_reward([math.log(0.5)] * 4) == pytest.approx(0.5)
    assert likelihood_to_reward([math.log(0.9), math.log(0.1)], "min") == pytest.approx(0.1)
    # The calibrated min reward puts δ = 0.7 at a least-token probability of 0.3.
    from rewardspec.rewards.likelihood import MIN_POWER
    assert likelihood_to_reward([math.log(0.3)], "min", MIN_POWER) == pytest.approx(0.7)
    assert LikelihoodReward(reduce="min").power == pytest.approx(MIN_POWER)
    assert likelihood_to_reward([]) == 1.0
    assert 0.0 <= likelihood_to_reward([-50.0, -0.0]) <= 1.0


def test_self_likelihood_is_free_and_ignores_eos_token():
    gen = Generation("x", 3, 0, "eos", [math.log(0.8), math.log(0.8), math.log(1e-6)])
    score = LikelihoodReward().score("q", [], "x", gen)
    assert score.value == pytest.approx(0.8) and score.scored_tokens == 0


def test_other_model_likelihood_is_costed():
    scorer = ScriptedModel("judge", ["x"], params=50)
    score = LikelihoodReward(scorer).score("q", ["a\n\n"], "b", None)
    assert score.value == pytest.approx(math.exp(-0.5))
    assert score.scored_tokens == 4 and score.prompt_tokens == 3


def test_reward_specs():
    assert make_reward("arithmetic").name == "arithmetic"
    assert make_reward("arithmetic*likelihood").name == "arithmetic*likelihood"
    loaded = make_reward("likelihood:judge", load=lambda n: ScriptedModel(n, ["x"], 5))
    assert loaded.params == 5
    with pytest.raises(InvalidInputError, match="unknown reward"):
        make_reward("yesno")
    with pytest.raises(InvalidInputError):
        LikelihoodReward().score("q", [], "x", None)
