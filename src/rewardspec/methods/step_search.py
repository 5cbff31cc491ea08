"""Step-level search guided by the reward model: process best-of-N and beam search.

``beam_size=1`` is process best-of-N: at every step ``width`` candidates are sampled and
the best-scored one is kept. With ``beam_size=k`` the ``k`` best partial solutions survive
each step and each is extended by ``width // k`` candidates (search-and-learn's beam
search). A beam's steps are final only when the search ends, so the answer is reported then.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rewardspec.errors import InvalidInputError
from rewardspec.methods.base import DecodeConfig, OnStep, as_chat, report, step_seed
from rewardspec.methods.sampler import aggregate, finish, generate_many, new_trace, sampling_config
from rewardspec.models.base import LanguageModel, Message
from rewardspec.rewards.base import Candidate, RewardModel, score_many
from rewardspec.types import Step, Trace


@dataclass
class _Beam:
    steps: list[Step]
    rewards: list[float]
    used: int
    """Response tokens so far."""
    done: str = ""
    """How this partial solution ended; "" while it goes on."""


@dataclass
class StepSearch:
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

    def solve(self, question: str | list[Message], on_step: OnStep | None = None) -> Trace:
        started = time.perf_counter()
        cfg = sampling_config(self.config, self.sample_temperature)
        question, messages = as_chat(question, cfg.system_prompt)
        trace = new_trace(question, self.method, self.draft, self.reward)
        beams = [_Beam([], [], 0)]
        # The question's ceiling on generated tokens, scaled by the candidates sampled per step.
        ceiling = cfg.total_budget * self.width
        for index in range(cfg.max_steps):
            if trace.usage["draft"].generated_tokens >= ceiling:
                for beam in beams:
                    beam.done = beam.done or "budget"
                break
            # `width` candidates per step in all, shared by the beams still open
            # (so the first step samples `width` from the empty prefix).
            per_beam = max(1, self.width // max(1, sum(not b.done for b in beams)))
            candidates: list[_Beam] = []
            for b, beam in enumerate(beams):
                if beam.done:
                    candidates.append(beam)
                    continue
                candidates.extend(self._extend(trace, question, messages, cfg, index, b, per_beam, beam, ceiling))
            candidates.sort(key=lambda c: aggregate(c.rewards, self.aggregation), reverse=True)
            beams = candidates[: self.beam_size]
            if all(b.done for b in beams):
                break
        best = max(beams, key=lambda c: (bool(c.done), aggregate(c.rewards, self.aggregation)))
        trace.steps = best.steps
        finish(trace, best.done or "max_steps")
        trace.wall_seconds = time.perf_counter() - started
        report(trace, on_step)
        return trace

    def _extend(self, trace: Trace, question: str, messages: list[Message], cfg: DecodeConfig, index: int,
                b: int, per_beam: int, beam: _Beam, ceiling: int) -> list[_Beam]:
        """One beam's candidates for this step, sampled (in one batch where the ceiling allows)
        and then scored in one batch."""
        prefix = "".join(s.text for s in beam.steps)
        room = cfg.max_tokens - beam.used
        gens, budgets = [], []
        left = ceiling - trace.usage["draft"].generated_tokens
        if left >= per_beam * room:  # the ceiling cannot cut any candidate: sample them together
            budgets = [room] * per_beam
            params = [cfg.sampling(max(1, room), step_seed(cfg.seed * 7919 + b * per_beam + j, index, "draft"))
                      for j in range(per_beam)]
            gens = generate_many(self.draft, messages, prefix, params)
            for gen in gens:
                trace.usage["draft"].add_generation(gen)
                trace.note_prompt(gen.prompt_tokens)
        else:
            for j in range(per_beam):
                left = ceiling - trace.usage["draft"].generated_tokens
                if left <= 0:
                    break  # the question's ceiling: no candidate more
                budget = min(room, left)
                params = cfg.sampling(max(1, budget), step_seed(cfg.seed * 7919 + b * per_beam + j, index, "draft"))
                gen = self.draft.generate_step(messages, prefix, params)
                trace.usage["draft"].add_generation(gen)
                trace.note_prompt(gen.prompt_tokens)
                gens.append(gen)
                budgets.append(budget)
        previous = [s.text for s in beam.steps]
        scores = score_many(self.reward, question, [Candidate(previous, g.text, g) for g in gens])
        out = []
        for gen, budget, score in zip(gens, budgets, scores):
            trace.usage["reward"].add_score(score)
            step = Step(gen.text, "draft", score.value, gen.generated_tokens)
            used_now = beam.used + gen.generated_tokens
            cut_by_ceiling = gen.finish_reason == "length" and budget < room
            done = "budget" if cut_by_ceiling else gen.finish_reason if gen.ends_answer else (
                "length" if used_now >= cfg.max_tokens else "")
            out.append(_Beam(beam.steps + [step], beam.rewards + [score.value], used_now, done))
        return out
