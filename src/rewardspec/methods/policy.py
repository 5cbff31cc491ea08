"""δ per question: which writer the RSD loop asks for each step.

Two signals move a question away from plain RSD, and the loop asks one policy about both
instead of branching on each:

* a question route (:mod:`rewardspec.methods.routing`), read once before the first step,
  sends the whole question to the target (δ = 1) or to the draft (δ = 0);
* escalation: after ``escalate_after`` draft steps of this question were rewritten, the
  target writes every later step. A draft that has already failed the reward on this
  question is a sign the question is beyond it, and each further draft step costs a draft
  pass and a reward call that are likely wasted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from rewardspec.errors import InvalidInputError
from rewardspec.models.base import Message
from rewardspec.types import Outcome, RouteDecision, Trace

if TYPE_CHECKING:
    from rewardspec.methods.loop import Clock
    from rewardspec.methods.routing import QuestionRouter

Writer = Literal["speculate", "target", "draft"]


@dataclass
class QuestionPolicy:
    """Who writes a question's next step: the draft under the reward's judgement, or one model."""

    escalate_after: int = 0
    router: QuestionRouter | None = None

    def __post_init__(self) -> None:
        k = self.escalate_after
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise InvalidInputError(f"escalate_after must be a whole number >= 0 (0: never); got {k}")

    def start(self, trace: Trace, messages: list[Message], clock: Clock) -> None:
        """Route the question before its first step. The read is the draft's prefill of the
        prompt (kept in its KV cache for its first step) and one token with embeddings on."""
        if self.router is None:
            return
        started = clock()
        route, value, processed = self.router.decide(messages)
        usage = trace.usage["draft"]
        usage.scored_tokens += 1
        usage.prompt_tokens += max(0, processed - 1)
        usage.seconds += clock() - started
        trace.note_prompt(processed)
        trace.route = RouteDecision(route, round(value, 4))

    def writer(self, trace: Trace) -> tuple[Writer, Outcome | None]:
        """The next step's writer, and the outcome a one-model step is counted as."""
        if trace.route is not None and trace.route.route != "rsd":
            return trace.route.route, "routed"
        if 0 < self.escalate_after <= trace.stats.rewritten:
            return "target", "escalated"
        return "speculate", None
