"""The step loop RSD and the single-model baselines share: budgets, endings, reporting.

A method supplies one function that decides the next step (a :class:`Decided` round, or
:class:`BudgetSpent` when the question's token ceiling leaves nothing to write it with);
the loop appends it, reports it, counts it in the trace's statistics and decides whether
the answer goes on. Keeping this in one place is what makes an RSD trace and a baseline's
compare field by field.

Every request carries its own budget and step counter; nothing here spans a batch of
requests. Besides ``max_tokens`` (the response) a request has a ceiling on all the tokens
its models generate, rejected drafts included, so no question costs more than a known
multiple of its answer's budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rewardspec.grading import extract_answer
from rewardspec.methods.base import DecodeConfig, OnStep, step_seed
from rewardspec.models.base import LanguageModel, Message, SamplingParams
from rewardspec.types import Generation, Outcome, Step, Trace

Clock = Callable[[], float]
Sampling = Callable[[str], "SamplingParams | None"]
"""This step's sampling for a role, or None when the question's token ceiling is reached."""


@dataclass(frozen=True)
class Decided:
    """A decided step, the call that wrote it (its ending says whether the answer goes on),
    and how it was decided."""

    step: Step
    generation: Generation
    outcome: Outcome


@dataclass(frozen=True)
class BudgetSpent:
    """The question's token ceiling was reached before the step was written. A draft step
    already rejected whose rewrite found no budget is not counted: no step carries it, so
    the statistics and the steps tell the same story (and samples files without statistics,
    whose counts are read off their steps, agree with new ones)."""


Round = Decided | BudgetSpent


def write(trace: Trace, role: str, model: LanguageModel, messages: list[Message], prefix: str,
          params: SamplingParams | None, clock: Clock) -> tuple[Step, Generation] | None:
    """One model call for one step, charged to ``role``; None when no budget is left for it."""
    if params is None:
        return None
    started = clock()
    gen = model.generate_step(messages, prefix, params)
    trace.usage[role].add_generation(gen, clock() - started)
    trace.note_prompt(gen.prompt_tokens)
    return Step(gen.text, role, None, gen.generated_tokens), gen  # type: ignore[arg-type]


def generated(trace: Trace) -> int:
    """Tokens the models generated for this question so far, discarded ones included."""
    return trace.usage["draft"].generated_tokens + trace.usage["target"].generated_tokens


def run_steps(trace: Trace, config: DecodeConfig, decide: Callable[[int, str, Sampling], Round],
              on_step: OnStep | None, clock: Clock, started: float) -> Trace:
    """Decide steps until the answer ends or a limit is reached; fill in how it ended."""
    tokens_left = config.max_tokens
    finish = "max_steps"
    for index in range(config.max_steps):

        def sampling(role: str, index: int = index) -> SamplingParams | None:
            budget_left = config.total_budget - generated(trace)
            if budget_left <= 0:
                return None
            return config.sampling(min(tokens_left, budget_left), step_seed(config.seed, index, role), role)

        decided = decide(index, trace.text, sampling)
        if isinstance(decided, BudgetSpent):
            finish = "budget"
            break
        step, gen = decided.step, decided.generation
        trace.stats.count(decided.outcome)
        trace.steps.append(step)
        if on_step is not None:
            on_step(step)
        tokens_left -= step.generated_tokens
        if gen.finish_reason == "length" and tokens_left > 0:
            finish = "budget"  # cut by the question's ceiling, not by max_tokens
            break
        if gen.ends_answer:
            finish = gen.finish_reason
            break
        if tokens_left <= 0:
            finish = "length"
            break
        if generated(trace) >= config.total_budget:
            finish = "budget"
            break
    trace.finish_reason = finish
    trace.answer = extract_answer(trace.text)
    trace.wall_seconds = clock() - started
    return trace
