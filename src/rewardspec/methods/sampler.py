"""What the search methods share: seeded draft samples, their cost, and how a pick ends.

All of them sample from the draft (the paper's baselines spend the small model's compute
N times instead of calling the large one) and return a :class:`~rewardspec.types.Trace`
like RSD's: the chosen answer's steps, with every sampled token counted in ``usage`` and
the ones that did not make it into the answer counted as discarded.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from rewardspec.errors import InvalidInputError
from rewardspec.grading import extract_answer
from rewardspec.methods.base import DecodeConfig
from rewardspec.methods.single import SingleModel
from rewardspec.models.base import LanguageModel, Message, SamplingParams
from rewardspec.rewards.base import RewardModel
from rewardspec.types import Generation, Trace

AGGREGATIONS = ("last", "min", "prod")
SampleCache = dict
"""(id(draft), question, n, decoding) -> (draft, its N samples); owned by whoever shares it (one
eval run). Keeping the draft keeps its id from being reused while the entry lives."""


def aggregate(rewards: list[float], how: str) -> float:
    """One score for a whole solution from its step rewards."""
    if not rewards:
        return 0.0
    if how == "last":
        return rewards[-1]
    if how == "min":
        return min(rewards)
    if how == "prod":
        return math.prod(rewards)
    raise InvalidInputError(f"unknown aggregation '{how}'; use one of {', '.join(AGGREGATIONS)}")


def sampling_config(config: DecodeConfig, temperature: float) -> DecodeConfig:
    """Search needs diversity: greedy samples would all be the same."""
    return config if config.temperature > 0 else replace(config, temperature=temperature)


def new_trace(question: str, method: str, draft: LanguageModel, reward: RewardModel | None) -> Trace:
    trace = Trace(question=question, method=method)
    trace.usage["draft"].params = draft.params
    if reward is not None:
        trace.usage["reward"].params = reward.params
    return trace


def finish(trace: Trace, finish_reason: str) -> Trace:
    """Close a picked answer: the draft tokens outside it were discarded."""
    kept = trace.response_tokens
    trace.usage["draft"].discarded_tokens = trace.usage["draft"].generated_tokens - kept
    trace.finish_reason = finish_reason
    trace.answer = extract_answer(trace.text)
    return trace


def add_sample_cost(trace: Trace, sample: Trace) -> None:
    """Every sampled token (and second) is paid for, whichever sample wins."""
    trace.usage["draft"] = trace.usage["draft"] + sample.usage["draft"]
    trace.note_prompt(sample.request_prompt_tokens or 0)


@dataclass
class Sample:
    """One full draft solution and the generations behind its steps (their log-probabilities
    are what a likelihood reward reads, so nothing has to be scored again)."""

    trace: Trace
    generations: list[Generation]


class _RecordingModel:
    """A draft that remembers the generations it returned, in order (one per sample step)."""

    def __init__(self, model: LanguageModel) -> None:
        self.model, self.generations = model, []

    def __getattr__(self, name: str):
        return getattr(self.model, name)

    def generate_step(self, messages, response_prefix, sampling):
        generation = self.model.generate_step(messages, response_prefix, sampling)
        self.generations.append(generation)
        return generation


def draft_samples(draft: LanguageModel, question: str | list[Message], n: int, config: DecodeConfig,
                  cache: SampleCache | None = None) -> list[Sample]:
    """N seeded full draft solutions, shared through ``cache`` by best-of-N and majority.

    The two differ only in how they pick among the same samples, so an evaluation that runs
    both gives them one cache and samples once; each still reports the full cost. The cache
    entry keeps the draft itself, so a key never matches another model that reused its id.
    """
    asked = tuple((m["role"], m["content"]) for m in question) if isinstance(question, list) else question
    key = (id(draft), asked, n, config)
    if cache is not None and key in cache and cache[key][0] is draft:
        return copy.deepcopy(cache[key][1])
    samples = []
    for i in range(n):
        recorder = _RecordingModel(draft)
        seeded = replace(config, seed=config.seed * 7919 + i)
        trace = SingleModel(recorder, "draft", seeded).solve(question)  # type: ignore[arg-type]
        samples.append(Sample(trace, recorder.generations))
    if cache is not None:
        cache[key] = (draft, copy.deepcopy(samples))
    return samples


def generate_many(model: LanguageModel, messages: list[Message], prefix: str,
                  params: Sequence[SamplingParams]) -> list[Generation]:
    """Several continuations of one prefix: one batched call where the backend has one."""
    batched: Callable | None = getattr(model, "generate_steps", None)
    if batched is not None and len(params) > 1:
        return list(batched([(messages, prefix, p) for p in params]))
    return [model.generate_step(messages, prefix, p) for p in params]
