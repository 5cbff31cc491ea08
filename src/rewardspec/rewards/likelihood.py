"""A likelihood reward: how probable a model finds the step, mapped to [0, 1].

No real PRM installs without a hub, and small models fail as Yes/No judges.
A step's log-likelihood does rank a correct step above a planted error, so
we use the geometric mean of the token probabilities, exp(mean log p), which
is already in [0, 1] and does not shrink with the step's length. ``"min"``
uses the least likely token instead: one wild token is often the error.

Scored by the draft itself the reward is free, since the draft computed these
probabilities while sampling. Scored by another model it costs that model a
forward pass over the step, which is counted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from rewardspec.errors import InvalidInputError
from rewardspec.models.base import LanguageModel
from rewardspec.prompts import build_messages
from rewardspec.rewards.base import Candidate, score_each, score_many
from rewardspec.specs import Spec
from rewardspec.types import Generation, RewardScore

REDUCTIONS = ("mean", "min")
# Calibration of the min reduction: r = p_min ** MIN_POWER puts the default δ = 0.7 at
# p_min = 0.3, so the default threshold rejects a step whose least likely token the draft
# gave less than 0.3. The least likely token, more than the mean, marks a draft's slip;
# benchmarks/reward_selection.py measures both (docs/rewards.md).
MIN_POWER = math.log(0.7) / math.log(0.3)


def likelihood_to_reward(logprobs: list[float], reduce: str = "mean", power: float = 1.0) -> float:
    """Map token log-probabilities to [0, 1]; ``power`` < 1 spreads low values upwards."""
    if not logprobs:
        return 1.0
    if reduce == "mean":
        return math.exp(power * sum(logprobs) / len(logprobs))
    if reduce == "min":
        return math.exp(power * min(logprobs))
    raise InvalidInputError(f"unknown likelihood reduction '{reduce}'; use one of {REDUCTIONS}")


class LikelihoodReward:
    """r = exp(mean token log-probability of the step) under a chosen model.

    With ``model=None`` the proposing model's own log-probabilities are used
    (self-confidence, zero extra cost).
    """

    def __init__(
        self,
        model: LanguageModel | None = None,
        reduce: str = "mean",
        system_prompt: str | None = None,
        power: float | None = None,
    ) -> None:
        if reduce not in REDUCTIONS:
            raise InvalidInputError(
                f"unknown likelihood reduction '{reduce}'; use one of {REDUCTIONS}"
            )
        self.model = model
        self.reduce = reduce
        self.power = power if power is not None else (MIN_POWER if reduce == "min" else 1.0)
        self.system_prompt = system_prompt
        base = "likelihood" if reduce == "mean" else "likelihood-min"
        self.name = f"{base}:{model.name}" if model is not None else base
        self.params = model.params if model is not None else 0

    def score(
        self,
        question: str,
        previous_steps: list[str],
        step: str,
        generation: Generation | None = None,
    ) -> RewardScore:
        if self.model is None:
            if generation is None or generation.token_logprobs is None:
                raise InvalidInputError(
                    "the self-likelihood reward needs the draft's token log-probabilities; "
                    "this backend does not return them, choose --reward likelihood:MODEL"
                )
            logprobs = generation.token_logprobs
            if generation.finish_reason == "eos" and logprobs:
                logprobs = logprobs[:-1]  # the end-of-answer token is not part of the step
            return RewardScore(likelihood_to_reward(logprobs, self.reduce, self.power))
        kwargs = {} if self.system_prompt is None else {"system": self.system_prompt}
        result = self.model.score_continuation(
            build_messages(question, **kwargs), "".join(previous_steps), step
        )
        return RewardScore(
            likelihood_to_reward(result.token_logprobs, self.reduce, self.power),
            scored_tokens=len(result.token_logprobs),
            prompt_tokens=result.prompt_tokens,
        )


def load_likelihood(spec: Spec, load: Callable[[str], LanguageModel] | None) -> LikelihoodReward:
    """``likelihood[-min]`` (the draft's own probabilities) or ``likelihood[-min]:MODEL``."""
    reduce = "min" if spec.prefix.endswith("-min") else "mean"
    if not spec.body:
        if spec.options:
            raise InvalidInputError(f"reward '{spec.text}': {spec.prefix} takes no options; write {spec.prefix} "
                                    f"or {spec.prefix}:MODEL")
        return LikelihoodReward(None, reduce=reduce)
    if load is None:
        raise InvalidInputError(f"reward '{spec.text}' needs a model loader")
    return LikelihoodReward(load(spec.rest), reduce=reduce)


class ProductReward:
    """r = min(1, r1 x r2): both judges must agree (e.g. arithmetic x likelihood).

    A part with an unclipped ``raw`` value (the likelihood ratio) enters with it, so
    ``arithmetic*likelihood-min*ratio:target?alpha=B`` is the rebuttal's hybrid
    min(1, β·r·P_M/P_m) and not r·min(1, β·P_M/P_m)."""

    def __init__(self, *parts) -> None:
        self.parts = parts
        self.name = "*".join(p.name for p in parts)
        self.params = sum(p.params for p in parts)

    def score(
        self,
        question: str,
        previous_steps: list[str],
        step: str,
        generation: Generation | None = None,
    ) -> RewardScore:
        return _combine([part.score(question, previous_steps, step, generation) for part in self.parts])

    def score_many(self, question: str, candidates: Sequence[Candidate]) -> list[RewardScore]:
        """A part that batches scores every candidate in one call. The others are called per
        candidate in the order ``score`` calls them: parts that share a model (and its KV cache)
        count their tokens by that order."""
        columns = {i: score_many(part, question, candidates)
                   for i, part in enumerate(self.parts) if hasattr(part, "score_many")}
        looped = [(i, part) for i, part in enumerate(self.parts) if i not in columns]
        out = []
        for n, candidate in enumerate(candidates):
            scores = {i: score_each(part, question, [candidate])[0] for i, part in looped}
            out.append(_combine([columns[i][n] if i in columns else scores[i] for i in range(len(self.parts))]))
        return out


def _combine(scores: list[RewardScore]) -> RewardScore:
    """The product of the parts' values (their unclipped ``raw`` where they have one), clipped once."""
    value, scored, prompt = 1.0, 0, 0
    for s in scores:
        value *= s.value if s.raw is None else s.raw
        scored += s.scored_tokens
        prompt += s.prompt_tokens
    return RewardScore(min(1.0, value), scored, prompt, raw=value)
