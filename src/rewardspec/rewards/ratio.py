"""The rebuttal's likelihood-ratio weighting: how much more the target believes the step.

The RSD authors' rebuttal proposes ω = min(1, α·P_M(y|z)/P_m(y|z)), the target's (M)
probability of the draft's step y over the draft's (m), and a hybrid with the PRM,
ω = min(1, β·r·P_M/P_m). Over a whole step the ratio is a product over tens of
tokens and swings by orders of magnitude with the step's length, so we normalise it
**per draft token**: ρ = exp((log P_M(y) − log P_m(y)) / n), n being the draft's token
count. log P(y) is the step's total log-probability under each model's own
tokenizer, so the ratio is defined for pairs that do not share one.

Here the ratio is a reward, so that the CLI, configs and the server take it as any
other: ``ratio:MODEL?alpha=A`` gives r = min(1, α·ρ), and the product
``arithmetic*likelihood-min*ratio:MODEL?alpha=B`` is the hybrid, since a product
clips only its final value (``RewardScore.raw``). With the binary rule the step is
accepted iff r >= δ; with ``--rule clip --delta 1`` the acceptance probability is ω
itself, as in the rebuttal.

Its cost is one forward pass of the target over the draft's step, counted as the
reward's scored tokens at the target's size. When MODEL is the RSD target (``ratio:target``
names it), that pass also fills the target's KV cache, so a later rewrite does not
prefill those tokens again.
"""

from __future__ import annotations

import math

from rewardspec.errors import InvalidInputError
from rewardspec.models.base import LanguageModel
from rewardspec.prompts import QWEN_MATH_COT_SYSTEM, build_messages
from rewardspec.specs import Spec
from rewardspec.types import Generation, RewardScore

#: exp of at most this per-token log-ratio: ρ beyond e^50 means the same as e^50 (accept).
_MAX_LOG_RATIO = 50.0


def per_token_log_ratio(target_logprobs: list[float], draft_logprobs: list[float]) -> float:
    """(log P_M(y) − log P_m(y)) / n over the draft's n tokens; 0 for an empty step."""
    if not draft_logprobs:
        return 0.0
    return (sum(target_logprobs) - sum(draft_logprobs)) / len(draft_logprobs)


class LikelihoodRatioReward:
    """r = min(1, α·ρ); ``raw`` keeps α·ρ unclipped for the hybrid product."""

    def __init__(self, model: LanguageModel, alpha: float = 1.0,
                 system_prompt: str | None = QWEN_MATH_COT_SYSTEM) -> None:
        self.model, self.alpha, self.system_prompt = model, alpha, system_prompt
        self.name = f"ratio:{model.name}" + (f"?alpha={alpha:g}" if alpha != 1.0 else "")
        self.params = model.params

    def score(self, question: str, previous_steps: list[str], step: str,
              generation: Generation | None = None) -> RewardScore:
        if generation is None or generation.token_logprobs is None:
            raise InvalidInputError(
                "the ratio reward needs the draft's token log-probabilities; this draft backend "
                "does not return them (for openai: drafts, add ?logprobs=true)")
        draft_logprobs = generation.token_logprobs
        if generation.finish_reason == "eos" and draft_logprobs:
            draft_logprobs = draft_logprobs[:-1]  # the end-of-answer token is not in the step's text
        if not step or not draft_logprobs:
            return RewardScore(min(1.0, self.alpha), raw=self.alpha)
        scored = self.model.score_continuation(
            build_messages(question, self.system_prompt), "".join(previous_steps), step)
        log_rho = min(per_token_log_ratio(scored.token_logprobs, draft_logprobs), _MAX_LOG_RATIO)
        raw = self.alpha * math.exp(log_rho)
        return RewardScore(min(1.0, raw), scored_tokens=len(scored.token_logprobs),
                           prompt_tokens=scored.prompt_tokens, raw=raw)


def load_ratio(spec: Spec, load) -> LikelihoodRatioReward:
    """``ratio:MODEL[?alpha=A]`` -> the reward; MODEL is loaded by ``load`` (``target`` is RSD's own)."""
    options = spec.options.check(("alpha",))
    if not spec.body:
        raise InvalidInputError("ratio needs the model whose likelihood is compared: ratio:target or ratio:MODEL")
    if load is None:
        raise InvalidInputError(f"reward '{spec.text}' needs a model loader")
    alpha = options.number("alpha", 1.0, minimum=0, exclusive=True)
    return LikelihoodRatioReward(load(spec.body), alpha)
