"""The RewardModel protocol: score the newest step of a partial answer.

A reward model sees text only (the question, the steps accepted so far and
the candidate step), so any PRM, ORM or verifier can judge any draft. The
draft's :class:`~rewardspec.types.Generation` is passed along as well: a
reward that needs nothing but the draft's own token log-probabilities can
then cost nothing extra.

Search methods weigh several candidates of one question at once. They call
:func:`score_many`, which uses a reward's own ``score_many(question,
candidates)`` where it has one (one batched forward pass for the transformers
PRMs, one request for vLLM pooling) and calls ``score`` once per candidate
otherwise, so a new reward needs only ``score``. A reward's ``score_many``
returns what ``score`` would, in order: the same values (up to float
rounding) and the same token counts, so batching changes speed, not results
or reported cost.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol, runtime_checkable

from rewardspec.types import Generation, RewardScore


@runtime_checkable
class RewardModel(Protocol):
    name: str
    params: int
    """Parameter count for FLOPs accounting; 0 for rule-based checks."""

    def score(
        self,
        question: str,
        previous_steps: list[str],
        step: str,
        generation: Generation | None = None,
    ) -> RewardScore:
        """r in [0, 1] for ``step`` following ``previous_steps``."""
        ...


class Candidate(NamedTuple):
    """One step to score: what came before it, the step, and the draft's generation of it."""

    previous_steps: Sequence[str]
    step: str
    generation: Generation | None = None


def candidates_of(items: Iterable[Candidate | tuple]) -> list[Candidate]:
    """Plain ``(previous_steps, step[, generation])`` tuples as candidates."""
    return [item if isinstance(item, Candidate) else Candidate(*item) for item in items]


def score_each(reward: RewardModel, question: str, candidates: Iterable[Candidate | tuple]) -> list[RewardScore]:
    """``reward.score`` once per candidate, in order: the default every batched path must match."""
    return [reward.score(question, list(c.previous_steps), c.step, c.generation) for c in candidates_of(candidates)]


def score_many(reward: RewardModel, question: str, candidates: Iterable[Candidate | tuple]) -> list[RewardScore]:
    """Scores of ``candidates`` (all for ``question``), in one call where the reward can batch."""
    items = candidates_of(candidates)
    batched = getattr(reward, "score_many", None)
    if batched is None or not items:
        return score_each(reward, question, items)
    scores = list(batched(question, items))
    if len(scores) != len(items):  # a reward's bug, not the user's: say whose
        raise RuntimeError(f"{reward.name}.score_many returned {len(scores)} scores for {len(items)} candidates")
    return scores
