"""The rebuttal's likelihood-ratio and hybrid weightings, without models."""

from __future__ import annotations

import math

import pytest

from rewardspec.errors import InvalidInputError
from rewardspec.models.base import ContinuationScore
from rewardspec.rewards import make_reward
from rewardspec.rewards.ratio import LikelihoodRatioReward, per_token_log_ratio
from rewardspec.types import Generation, RewardScore


class TargetScores:
    """A target that gives each continuation token the same log-probability."""

    name, params = "big", 1000

    def __init__(self, logprob: float, tokens: int = 4):
        self.logprob, self.tokens = logprob, tokens
        self.seen: list[tuple[str, str]] = []

    def score_continuation(self, messages, response_prefix, continuation):
        self.seen.append((response_prefix, continuation))
        return ContinuationScore([self.logprob] * self.tokens, 11)


class Fixed:
    name, params = "fixed", 0

    def __init__(self, value):
        self.value = value

    def score(self, question, previous_steps, step, generation=None):
        return RewardScore(self.value)


def draft_gen(logprobs, finish="step"):
    return Generation("step\n\n", len(logprobs), 3, finish, logprobs)


def test_the_ratio_is_per_draft_token_and_tokenizer_free():
    # log P_M = -4 over 2 target tokens, log P_m = -8 over 4 draft tokens: ρ = exp(4 / 4).
    assert per_token_log_ratio([-2.0, -2.0], [-2.0] * 4) == pytest.approx(1.0)
    assert per_token_log_ratio([-1.0], []) == 0.0


def test_reward_is_clipped_alpha_times_rho_and_costs_a_target_pass():
    target = TargetScores(-1.0, tokens=4)
    reward = LikelihoodRatioReward(target, alpha=0.5)
    score = reward.score("q", ["a\n\n"], "step\n\n", draft_gen([-2.0] * 4))
    assert score.raw == pytest.approx(0.5 * math.e)  # mean gain of 1 nat per token
    assert score.value == 1.0
    assert (score.scored_tokens, score.prompt_tokens) == (4, 11)
    assert target.seen == [("a\n\n", "step\n\n")]
    low = LikelihoodRatioReward(TargetScores(-3.0), alpha=1.0).score("q", [], "step\n\n", draft_gen([-1.0] * 4))
    assert low.value == pytest.approx(math.exp(-2.0))


def test_the_end_of_answer_token_is_left_out_of_the_drafts_likelihood():
    reward = LikelihoodRatioReward(TargetScores(-1.0, tokens=2))
    with_eos = reward.score("q", [], "x", draft_gen([-1.0, -1.0, -9.0], finish="eos"))
    assert with_eos.value == pytest.approx(1.0)  # -2 vs -2: ρ = 1, the EOS's -9 not counted


def test_hybrid_product_clips_once():
    from rewardspec.rewards.likelihood import ProductReward

    target = TargetScores(-1.0)
    hybrid = ProductReward(Fixed(0.2), LikelihoodRatioReward(target, alpha=2.0))
    score = hybrid.score("q", [], "step\n\n", draft_gen([-1.5] * 4))  # ρ = e^0.5
    assert score.value == pytest.approx(min(1.0, 2.0 * 0.2 * math.exp(0.5)))
    # r·min(1, β·ρ) would be 0.2: the product must not clip the ratio first.
    assert score.value > 0.6


def test_specs_and_bad_options():
    target = TargetScores(-1.0)
    reward = make_reward("arithmetic*ratio:big?alpha=0.25", load=lambda name: target)
    assert reward.name == "arithmetic*ratio:big?alpha=0.25"
    assert reward.params == 1000
    for spec, message in (("ratio:big?alpha=0", "finite number > 0"), ("ratio:big?alpha=nan", "finite"),
                          ("ratio:big?alpha=inf", "finite"), ("ratio:big?beta=1", "unknown option"),
                          ("ratio:", "needs the model")):
        with pytest.raises(InvalidInputError, match=message):
            make_reward(spec, load=lambda name: target)


def test_a_draft_without_logprobs_is_refused_in_one_line():
    reward = LikelihoodRatioReward(TargetScores(-1.0))
    with pytest.raises(InvalidInputError, match="log-probabilities"):
        reward.score("q", [], "x", Generation("x", 1, 1, "step", None))


def test_ratio_target_is_the_runs_own_target(monkeypatch):
    from rewardspec.build import Models, solver_settings

    loaded = []

    def loader(spec):
        loaded.append(spec)
        return TargetScores(-1.0) if spec != "tiny-draft" else object()

    models = Models(solver_settings(draft="tiny-draft", target="tiny-target", reward="ratio:target"), loader)
    assert models.reward.model is models.target
    assert loaded.count("tiny-target") == 1
