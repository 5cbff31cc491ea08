"""The RewardModel protocol: score the newest step of a partial answer.

A reward model sees text only (the question, the steps accepted so far and
the candidate step), so any PRM, ORM or verifier can judge any draft. The
draft's :class:`~rewardspec.types.Generation` is passed along as well: a
reward that needs nothing but the draft's own token log-probabilities can
then cost nothing extra.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

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
