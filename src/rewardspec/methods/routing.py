"""δ per question, set before solving: a question head routes each question.

Escalation (``escalate_after``) sets δ while solving, from the reward's own rejections. A
route decides before the first step, from the draft's hidden state at the end of the
question: one prefill the draft makes anyway when it drafts. A probe trained by
``rewardspec train-reward --labels question`` reads it as P(the draft alone solves this).

* below ``target_below`` the target writes every step (δ = 1, and no draft step is written
  only to be rejected, which a question-level cascade pays for in full);
* at or above ``draft_above`` the draft writes every step (δ = 0, and no reward calls);
* in between, RSD with the configured δ and reward.

The break-even point is the draft's accuracy: routing a question to the target buys
accuracy at the draft–target line's own price when the estimate is no better than the
base rate, so a route pays off exactly as far as the probe sees which questions the draft
can do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal

from rewardspec.errors import InvalidInputError
from rewardspec.models.base import Message
from rewardspec.rewards.value_head import ValueHead, find_head, hidden_state_of
from rewardspec.specs import parse_spec

Route = Literal["target", "rsd", "draft"]
#: The label a question head is trained on (``train-reward --labels question``).
QUESTION_LABELS = "question"


def check_thresholds(target_below: float | None, draft_above: float | None) -> None:
    for key, value in (("target_below", target_below), ("draft_above", draft_above)):
        if value is not None and not 0.0 <= value <= 1.0:
            raise InvalidInputError(f"route: {key} must be a probability in [0, 1]; got {value}")
    if target_below is None and draft_above is None:
        raise InvalidInputError("route: give target_below, draft_above or both "
                                "(e.g. head:NAME?target_below=0.25)")
    if target_below is not None and draft_above is not None and draft_above < target_below:
        raise InvalidInputError(f"route: draft_above ({draft_above}) must not be below "
                                f"target_below ({target_below})")


@dataclass
class QuestionRouter:
    """Which model writes a question's steps, decided once from the question head's estimate."""

    head: ValueHead
    model: Any
    target_below: float | None = None
    draft_above: float | None = None
    name: str = "route"

    def __post_init__(self) -> None:
        check_thresholds(self.target_below, self.draft_above)

    def route(self, value: float) -> Route:
        if self.target_below is not None and value < self.target_below:
            return "target"
        if self.draft_above is not None and value >= self.draft_above:
            return "draft"
        return "rsd"

    def decide(self, messages: list[Message]) -> tuple[Route, float, int]:
        """(the route, P(the draft solves it), tokens the draft evaluated to read it)."""
        hidden, processed = hidden_state_of(self.model, messages, "")
        if len(hidden) != len(self.head.weights):
            raise InvalidInputError(
                f"question head for '{self.head.model}' expects hidden size {len(self.head.weights)}; "
                f"'{self.model.name}' has {len(hidden)}")
        value = self.head.probability(hidden)
        return self.route(value), value, processed


def is_question_head(head: ValueHead) -> bool:
    return head.provenance.get("labels") == QUESTION_LABELS


@dataclass(frozen=True)
class RouteSpec:
    """A route spec checked without loading a model, so a typo fails before minutes of loading."""

    spec: str
    head: ValueHead
    target_below: float | None
    draft_above: float | None
    force: bool


def parse_route(spec: str) -> RouteSpec:
    """``head:PATH_OR_NAME?target_below=P&draft_above=Q[&force=true]``."""
    spec = spec.strip()
    parsed = parse_spec(spec, ("head",), where=f"route '{spec}'")
    if parsed.prefix != "head":
        raise InvalidInputError(f"route '{spec}': write head:PATH_OR_NAME?target_below=P&draft_above=Q")
    options = parsed.options.check(("target_below", "draft_above", "force"))
    target_below = options.number("target_below")
    draft_above = options.number("draft_above")
    force = bool(options.flag("force"))
    check_thresholds(target_below, draft_above)
    _, head = find_head(parsed.body)
    if not is_question_head(head):
        raise InvalidInputError(f"'{parsed.body}' is a step head; a route needs a question head "
                                "(rewardspec train-reward --labels question)")
    if head.read != "draft":
        raise InvalidInputError(f"question head '{parsed.body}' reads the {head.read}; a route reads the draft "
                                "(train one with --read draft)")
    return RouteSpec(spec, head, target_below, draft_above, force)


def load_router(spec: str, load: Callable[[str], Any]) -> QuestionRouter:
    """The router ``spec`` names, reading the draft that ``load("draft")`` gives: the run's own,
    whose KV cache then holds the prompt for the first draft step."""
    parsed = parse_route(spec)
    model = load("draft")
    if model.name != parsed.head.model and not parsed.force:
        raise InvalidInputError(
            f"question head '{spec}' was trained on '{parsed.head.model}', but the draft is '{model.name}'; "
            f"train one for this draft with `rewardspec train-reward --labels question`, or add ?force=true")
    return QuestionRouter(parsed.head, model, parsed.target_below, parsed.draft_above, name=parsed.spec)
