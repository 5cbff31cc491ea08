"""Best-of-N: N full draft samples; the one whose step rewards aggregate highest wins."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rewardspec.errors import InvalidInputError
from rewardspec.methods.base import DecodeConfig, OnStep, as_chat, report
from rewardspec.methods.sampler import (
    SampleCache,
    add_sample_cost,
    aggregate,
    draft_samples,
    finish,
    new_trace,
    sampling_config,
)
from rewardspec.models.base import LanguageModel, Message
from rewardspec.rewards.base import Candidate, RewardModel, score_many
from rewardspec.types import Trace


@dataclass
class BestOfN:
    draft: LanguageModel
    reward: RewardModel
    n: int = 8
    aggregation: str = "last"
    sample_temperature: float = 0.7
    config: DecodeConfig = field(default_factory=DecodeConfig)
    method: str = "best_of_n"
    cache: SampleCache | None = None

    def __post_init__(self) -> None:
        if self.n < 1:
            raise InvalidInputError(f"n must be at least 1; got {self.n}")
        aggregate([1.0], self.aggregation)

    def solve(self, question: str | list[Message], on_step: OnStep | None = None) -> Trace:
        """Sample, score every step of every sample in one batch each, pick, then report the pick."""
        text, _ = as_chat(question, self.config.system_prompt)
        trace = new_trace(text, self.method, self.draft, self.reward)
        samples = draft_samples(self.draft, question, self.n,
                                sampling_config(self.config, self.sample_temperature), self.cache)
        picked_at = time.perf_counter()
        best, best_score = None, -1.0
        for sample in samples:
            add_sample_cost(trace, sample.trace)
            scored = [(i, Candidate([s.text for s in sample.trace.steps[:i]], step.text, gen))
                      for i, (step, gen) in enumerate(zip(sample.trace.steps, sample.generations))
                      if step.text.strip()]
            scores = score_many(self.reward, text, [c for _, c in scored])
            for (i, _), score in zip(scored, scores):
                trace.usage["reward"].add_score(score)
                sample.trace.steps[i].reward = score.value
            value = aggregate([s.value for s in scores], self.aggregation)
            if value > best_score:
                best, best_score = sample.trace, value
        trace.steps = best.steps
        finish(trace, best.finish_reason)
        # Wall time = generating the samples + judging them, even when the samples were shared.
        trace.wall_seconds = sum(s.trace.wall_seconds for s in samples) + time.perf_counter() - picked_at
        report(trace, on_step)
        return trace
