"""The single-model baselines: the target alone, or the draft alone.

They run the same step loop as RSD (:mod:`rewardspec.methods.loop`) with the same seeds
per step, so their traces and accounting compare field by field with RSD's, and RSD at
δ = 0 reproduces the draft alone exactly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from rewardspec.errors import InvalidInputError
from rewardspec.methods.base import DecodeConfig, OnStep, as_chat
from rewardspec.methods.loop import BudgetSpent, Clock, Decided, Round, Sampling, run_steps, write
from rewardspec.models.base import LanguageModel, Message
from rewardspec.types import Trace


@dataclass
class SingleModel:
    """Every step written by one model: ``role`` says which, and names the method."""

    model: LanguageModel
    role: Literal["target", "draft"] = "target"
    config: DecodeConfig = field(default_factory=DecodeConfig)
    clock: Clock = field(default=time.perf_counter, repr=False)

    def __post_init__(self) -> None:
        if self.role not in ("target", "draft"):
            raise InvalidInputError(f"a single-model baseline is the 'target' or the 'draft'; got '{self.role}'")
        if self.model is None:
            raise InvalidInputError(f"method '{self.role}' needs a {self.role} model")

    @property
    def method(self) -> str:
        return self.role

    def solve(self, question: str | list[Message], on_step: OnStep | None = None) -> Trace:
        """Answer one question; ``on_step`` sees each step as soon as it is written."""
        started = self.clock()
        question, messages = as_chat(question, self.config.system_prompt)
        trace = Trace(question=question, method=self.role)
        trace.usage[self.role].params = self.model.params

        def decide(index: int, prefix: str, sampling: Sampling) -> Round:
            written = write(trace, self.role, self.model, messages, prefix, sampling(self.role), self.clock)
            return BudgetSpent() if written is None else Decided(*written, "written")

        return run_steps(trace, self.config, decide, on_step, self.clock, started)
