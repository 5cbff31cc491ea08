"""Reward-guided search baselines: best-of-N, majority voting, process best-of-N, beam.

All of them sample from the draft (the paper's baselines spend the small
model's compute N times instead of calling the large one) and return a
:class:`~rewardspec.types.Trace` like RSD's: the chosen answer's steps, with
every sampled token counted in ``usage`` and the ones that did not make it
into the answer counted as discarded.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

from rewardspec.errors import InvalidInputError
from rewardspec.grading import extract_answer
from rewardspec.methods.rsd import RSD, DecodeConfig, as_chat, step_seed
from rewardspec.models.base import LanguageModel
from rewardspec.rewards.base import RewardModel
from rewardspec.types import Generation, Step, Trace

AGGREGATIONS = ("last", "min", "prod")
SampleCache = dict  # (draft, question, n, decoding) -> the N sample traces; owned by whoever shares it


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


def _sampling_config(config: DecodeConfig, temperature: float) -> DecodeConfig:
    """Search needs diversity: greedy samples would all be the same."""
    if config.temperature > 0:
        return config
    return DecodeConfig(**{**config.__dict__, "temperature": temperature})


def _new_trace(question: str, method: str, draft: LanguageModel, reward: RewardModel | None) -> Trace:
    trace = Trace(question=question, method=method)
    trace.usage["draft"].params = draft.params
    if reward is not None:
        trace.usage["reward"].params = reward.params
    return trace


def _finish(trace: Trace, started: float, finish: str) -> Trace:
    kept = trace.response_tokens
    trace.usage["draft"].discarded_tokens = trace.usage["draft"].generated_tokens - kept
    trace.finish_reason = finish
    trace.answer = extract_answer(trace.text)
    trace.wall_seconds = time.perf_counter() - started
    return trace


def _add_sample_cost(trace: Trace, sample: Trace) -> None:
    """Every sampled token is paid for, whichever sample wins."""
    spent, used = trace.usage["draft"], sample.usage["draft"]
    spent.generated_tokens += used.generated_tokens
    spent.prompt_tokens += used.prompt_tokens
    spent.calls += used.calls


def _with_sampling_time(trace: Trace, samples: list[Trace], picked_at: float) -> Trace:
    """Wall time = generating the samples + judging them, even when the samples were shared."""
    trace.wall_seconds = sum(s.wall_seconds for s in samples) + time.perf_counter() - picked_at
    return trace


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


@dataclass
class BestOfN:
    """N full draft samples; the one whose step rewards aggregate highest wins."""

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

    def samples(self, question: str | list) -> list[Trace]:
        """The N seeded draft samples, shared through ``cache`` with majority voting.

        Best-of-N and majority voting differ only in how they pick among the
        same samples, so an evaluation that runs both gives them one cache
        and samples once. Each method still reports the full cost of its samples.
        """
        return [trace for trace, _ in self._samples_with_generations(question)]

    def _samples_with_generations(self, question: str | list) -> list[tuple[Trace, list[Generation]]]:
        """Each sample with the draft generations behind its steps (their log-probabilities
        are what a likelihood reward reads, so nothing has to be scored again)."""
        cfg = _sampling_config(self.config, self.sample_temperature)
        asked = tuple((m["role"], m["content"]) for m in question) if isinstance(question, list) else question
        key = (id(self.draft), asked, self.n, cfg)
        if self.cache is not None and key in self.cache:
            return copy.deepcopy(self.cache[key])
        samples = []
        for i in range(self.n):
            recorder = _RecordingModel(self.draft)
            trace = RSD(draft=recorder, method="draft",  # type: ignore[arg-type]
                        config=DecodeConfig(**{**cfg.__dict__, "seed": cfg.seed * 7919 + i})).solve(question)
            samples.append((trace, recorder.generations))
        if self.cache is not None:
            self.cache[key] = copy.deepcopy(samples)
        return samples

    def solve(self, question: str | list, on_step=None) -> Trace:
        started = time.perf_counter()
        text, _ = as_chat(question, self.config.system_prompt)
        trace = _new_trace(text, self.method, self.draft, self.reward)
        best, best_score = None, -1.0
        pairs = self._samples_with_generations(question)
        samples = [sample for sample, _ in pairs]
        picked_at = time.perf_counter()
        for sample, generations in pairs:
            _add_sample_cost(trace, sample)
            rewards, previous = [], []
            for step, gen in zip(sample.steps, generations):
                if step.text.strip():
                    score = self.reward.score(text, previous, step.text, gen)
                    trace.usage["reward"].add_score(score)
                    step.reward = score.value
                    rewards.append(score.value)
                previous.append(step.text)
            value = aggregate(rewards, self.aggregation)
            if value > best_score:
                best, best_score = sample, value
        trace.steps = best.steps
        return _with_sampling_time(_finish(trace, started, best.finish_reason), samples, picked_at)


@dataclass
class MajorityVote:
    """N draft samples; the answer most of them reach (by graded equivalence) wins."""

    draft: LanguageModel
    n: int = 8
    sample_temperature: float = 0.7
    dataset: str = "math"
    config: DecodeConfig = field(default_factory=DecodeConfig)
    method: str = "majority"
    cache: SampleCache | None = None

    def solve(self, question: str | list, on_step=None) -> Trace:
        from rewardspec.grading import answers_equivalent, final_answer

        started = time.perf_counter()
        trace = _new_trace(as_chat(question, self.config.system_prompt)[0], self.method, self.draft, None)
        sampler = BestOfN(self.draft, reward=None, n=self.n,  # type: ignore[arg-type]
                          sample_temperature=self.sample_temperature, config=self.config, cache=self.cache)
        samples = sampler.samples(question)
        picked_at = time.perf_counter()
        # Vote on the answers as the grader reads them (option letters, lists of boxes), so
        # that two samples share a vote exactly when they would grade the same.
        groups: list[tuple[str, list[Trace]]] = []
        for sample in samples:
            _add_sample_cost(trace, sample)
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
        return _with_sampling_time(_finish(trace, started, winner.finish_reason), samples, picked_at)


@dataclass
class StepSearch:
    """Step-level search guided by the reward model.

    ``beam_size=1`` is process best-of-N: at every step ``width`` candidates
    are sampled and the best-scored one is kept. With ``beam_size=k`` the
    ``k`` best partial solutions survive each step and each is extended by
    ``width // k`` candidates (search-and-learn's beam search).
    """

    draft: LanguageModel
    reward: RewardModel
    width: int = 4
    beam_size: int = 1
    sample_temperature: float = 0.7
    aggregation: str = "last"
    config: DecodeConfig = field(default_factory=DecodeConfig)
    method: str = "process_best_of_n"

    def __post_init__(self) -> None:
        if self.width < 1 or self.beam_size < 1 or self.width < self.beam_size:
            raise InvalidInputError(
                f"need width >= beam_size >= 1; got width={self.width}, beam_size={self.beam_size}"
            )
        aggregate([1.0], self.aggregation)

    def solve(self, question: str | list, on_step=None) -> Trace:
        started = time.perf_counter()
        cfg = _sampling_config(self.config, self.sample_temperature)
        question, messages = as_chat(question, cfg.system_prompt)
        trace = _new_trace(question, self.method, self.draft, self.reward)
        # A beam: (steps, rewards, tokens used, finished reason or "")
        beams: list[tuple[list[Step], list[float], int, str]] = [([], [], 0, "")]
        # The question's ceiling on generated tokens, scaled by the candidates sampled per step.
        ceiling = cfg.total_budget * self.width
        for index in range(cfg.max_steps):
            if trace.usage["draft"].generated_tokens >= ceiling:
                beams = [(steps, rewards, used, done or "budget") for steps, rewards, used, done in beams]
                break
            # `width` candidates per step in all, shared by the beams still open
            # (so the first step samples `width` from the empty prefix).
            per_beam = max(1, self.width // max(1, sum(not done for *_, done in beams)))
            candidates = []
            for b, (steps, rewards, used, done) in enumerate(beams):
                if done:
                    candidates.append((steps, rewards, used, done))
                    continue
                prefix = "".join(s.text for s in steps)
                for j in range(per_beam):
                    left = ceiling - trace.usage["draft"].generated_tokens
                    if left <= 0:
                        break  # the question's ceiling: no candidate more
                    budget = min(cfg.max_tokens - used, left)
                    gen = self._sample(trace, messages, prefix, cfg, index, b * per_beam + j, budget)
                    score = self.reward.score(question, [s.text for s in steps], gen.text, gen)
                    trace.usage["reward"].add_score(score)
                    step = Step(gen.text, "draft", score.value, gen.generated_tokens)
                    used_now = used + gen.generated_tokens
                    cut_by_ceiling = gen.finish_reason == "length" and budget < cfg.max_tokens - used
                    finished = "budget" if cut_by_ceiling else gen.finish_reason if gen.ends_answer else (
                        "length" if used_now >= cfg.max_tokens else "")
                    candidates.append((steps + [step], rewards + [score.value], used_now, finished))
            candidates.sort(key=lambda c: aggregate(c[1], self.aggregation), reverse=True)
            beams = candidates[: self.beam_size]
            if all(done for *_, done in beams):
                break
        best = max(beams, key=lambda c: (bool(c[3]), aggregate(c[1], self.aggregation)))
        trace.steps = best[0]
        return _finish(trace, started, best[3] or "max_steps")

    def _sample(self, trace: Trace, messages, prefix: str, cfg: DecodeConfig, index: int,
                candidate: int, budget: int) -> Generation:
        params = cfg.sampling(max(1, budget), step_seed(cfg.seed * 7919 + candidate, index, "draft"))
        gen = self.draft.generate_step(messages, prefix, params)
        trace.usage["draft"].add_generation(gen)
        return gen
