"""Majority voting: N draft samples; the answer most of them reach (by graded equivalence) wins."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rewardspec.errors import InvalidInputError
from rewardspec.methods.base import DecodeConfig, OnStep, as_chat, report
from rewardspec.methods.sampler import (
    SampleCache,
    add_sample_cost,
    draft_samples,
    finish,
    new_trace,
    sampling_config,
)
from rewardspec.models.base import LanguageModel, Message
from rewardspec.types import Trace


@dataclass
class MajorityVote:
    draft: LanguageModel
    n: int = 8
    sample_temperature: float = 0.7
    dataset: str = "math"
    config: DecodeConfig = field(default_factory=DecodeConfig)
    method: str = "majority"
    cache: SampleCache | None = None

    def __post_init__(self) -> None:
        if self.n < 1:
            raise InvalidInputError(f"n must be at least 1; got {self.n}")

    def solve(self, question: str | list[Message], on_step: OnStep | None = None) -> Trace:
        from rewardspec.grading import answers_equivalent, final_answer

        trace = new_trace(as_chat(question, self.config.system_prompt)[0], self.method, self.draft, None)
        samples = [s.trace for s in draft_samples(self.draft, question, self.n,
                                                  sampling_config(self.config, self.sample_temperature),
                                                  self.cache)]
        picked_at = time.perf_counter()
        # Vote on the answers as the grader reads them (option letters, lists of boxes), so
        # that two samples share a vote exactly when they would grade the same.
        groups: list[tuple[str, list[Trace]]] = []
        for sample in samples:
            add_sample_cost(trace, sample)
            answer = final_answer(sample.text, self.dataset)
            if answer is None:
                continue
            for first, group in groups:
                if answers_equivalent(first, answer, self.dataset):
                    group.append(sample)
                    break
            else:
                groups.append((answer, [sample]))
        winner = max(groups, key=lambda g: len(g[1]))[1][0] if groups else samples[0]
        trace.steps = winner.steps
        finish(trace, winner.finish_reason)
        trace.wall_seconds = sum(s.wall_seconds for s in samples) + time.perf_counter() - picked_at
        report(trace, on_step)
        return trace
