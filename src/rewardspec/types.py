"""The records every method produces: generations, steps, usage and traces.

Usage is kept per *role* (draft, target, reward) rather than per model object
so that a trace from RSD and a trace from a baseline compare field by field.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

Source = Literal["draft", "target"]
Outcome = Literal["accepted", "rejected", "degenerate", "unjudged", "escalated", "routed", "written"]
"""How a step was decided: a judged draft step kept or rewritten (rejected, or degenerate for a
loop); the draft's empty closing step, never judged; a step the target wrote because the
question escalated, or that a question route's one model wrote; a single model's step."""
ROLES: tuple[str, ...] = ("draft", "target", "reward")


@dataclass
class Generation:
    """One call of a language model: the text of a single step and its cost."""

    text: str
    generated_tokens: int
    prompt_tokens: int
    """Prompt tokens actually processed, after reuse of a cached prefix."""
    finish_reason: Literal["step", "eos", "length", "stop", "degenerate"]
    """"degenerate": the step fell into a loop and was cut (see :mod:`rewardspec.steps`)."""
    token_logprobs: list[float] | None = None
    """Log-probability of each generated token under the generating model."""
    prefill_seconds: float | None = None
    """Time spent on the prompt before the first new token, where the backend can tell."""
    lookahead: Lookahead | None = None
    """Proposed tokens the model checked in batched passes while writing, where it did."""
    token_ids: list[int] | None = None
    """The tokens written, in the model's vocabulary, where the backend knows them (in-process)."""

    @property
    def ends_answer(self) -> bool:
        """True when this step is the last one of the response."""
        return self.finish_reason in ("eos", "length", "stop", "degenerate")


@dataclass
class Lookahead:
    """Tokens a model took from proposals it checked in one batched pass, instead of decoding
    them one pass each: RSD's rejected draft step (``rewrite``), or n-grams looked up in its own
    context (``ngram``). Checking never changes what is written: a proposed token is kept only
    where the model itself picks it from the checked logits, with the same random draw it
    would have used (:mod:`rewardspec.models.lookahead`).

    Counted so that no figure is flattered: kept tokens stay in ``generated_tokens``; offered
    tokens that were not kept were computed all the same, and count as prompt-side work.
    """

    rewrite_offered: int = 0
    """Tokens of rejected draft steps checked by the target."""
    rewrite_accepted: int = 0
    """Of those, the tokens the target kept: each one a decode pass it did not run."""
    ngram_offered: int = 0
    """Tokens proposed by prompt lookup (n-grams of the context) and checked."""
    ngram_accepted: int = 0
    verify_passes: int = 0
    """Batched passes that checked proposals."""
    passes_saved: int = 0
    """Decode passes not run because a kept token's logits were already there: the kept tokens,
    less one for a step that ended on a kept token (writing alone never runs its last token).
    Over HTTP the check is a request of its own, so it is the kept tokens less one (-1: a check
    that kept nothing)."""
    verify_seconds: float = 0.0
    """Wall time of those passes."""

    @property
    def offered(self) -> int:
        return self.rewrite_offered + self.ngram_offered

    @property
    def accepted(self) -> int:
        """Tokens kept from proposals."""
        return self.rewrite_accepted + self.ngram_accepted

    @property
    def wasted(self) -> int:
        """Checked tokens that were not kept: prompt-side work spent for nothing."""
        return self.offered - self.accepted

    def __add__(self, other: Lookahead) -> Lookahead:
        return Lookahead(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


@dataclass
class RewardScore:
    """A reward in [0, 1] for one step and the tokens the scorer processed."""

    value: float
    scored_tokens: int = 0
    """Tokens of the step itself that the reward model evaluated."""
    prompt_tokens: int = 0
    """Context tokens (question, earlier steps) the reward model processed."""
    raw: float | None = None
    """The value before clipping to [0, 1], where a reward has one (the likelihood ratio's
    α·ρ): a product multiplies these and clips once, which makes the hybrid ω."""


@dataclass
class RejectedDraft:
    """A draft step the acceptance rule turned down; its tokens were spent."""

    text: str
    reward: float | None
    """None when the step was never scored: it was rejected for looping (``degenerate``)."""
    generated_tokens: int
    degenerate: bool = False


@dataclass
class Step:
    """One step of an answer: who wrote it, its reward where one was read, and its tokens."""

    text: str
    source: Source
    reward: float | None
    generated_tokens: int
    rejected_draft: RejectedDraft | None = None


@dataclass
class ModelUsage:
    """Tokens one role spent, and the FLOPs they imply (2 x params x tokens).

    ``generated_tokens`` counts every token the model generated, discarded
    ones included: a rejected draft step cost its FLOPs all the same.
    """

    params: int = 0
    generated_tokens: int = 0
    prompt_tokens: int = 0
    discarded_tokens: int = 0
    scored_tokens: int = 0
    calls: int = 0
    seconds: float = 0.0
    """Wall time inside this role's calls (generate or score)."""
    prefill_seconds: float = 0.0
    """Of ``seconds``, the part spent on prompts, where the backend reports it."""
    lookahead: Lookahead = field(default_factory=Lookahead)
    """Proposals this role checked while writing; its rejected tokens are in ``prompt_tokens``."""

    @property
    def flops(self) -> float:
        """FLOPs of generated (and, for a reward model, scored) tokens: our convention."""
        return 2.0 * self.params * (self.generated_tokens + self.scored_tokens)

    @property
    def flops_with_prompt(self) -> float:
        """FLOPs including every prompt token processed."""
        return 2.0 * self.params * (
            self.generated_tokens + self.scored_tokens + self.prompt_tokens
        )

    def add_generation(self, gen: Generation, seconds: float = 0.0) -> None:
        self.generated_tokens += gen.generated_tokens
        self.prompt_tokens += gen.prompt_tokens
        self.calls += 1
        self.seconds += seconds
        self.prefill_seconds += gen.prefill_seconds or 0.0
        if gen.lookahead is not None:
            self.lookahead = self.lookahead + gen.lookahead
            self.prompt_tokens += gen.lookahead.wasted

    def add_score(self, score: RewardScore, seconds: float = 0.0) -> None:
        self.scored_tokens += score.scored_tokens
        self.prompt_tokens += score.prompt_tokens
        self.calls += 1
        self.seconds += seconds

    def __add__(self, other: ModelUsage) -> ModelUsage:
        """Two spends of the same role added: tokens, calls and time; the size is the role's."""
        return ModelUsage(
            params=self.params or other.params,
            generated_tokens=self.generated_tokens + other.generated_tokens,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            discarded_tokens=self.discarded_tokens + other.discarded_tokens,
            scored_tokens=self.scored_tokens + other.scored_tokens,
            calls=self.calls + other.calls,
            seconds=self.seconds + other.seconds,
            prefill_seconds=self.prefill_seconds + other.prefill_seconds,
            lookahead=self.lookahead + other.lookahead,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "generated_tokens": self.generated_tokens,
            "prompt_tokens": self.prompt_tokens,
            "discarded_tokens": self.discarded_tokens,
            "scored_tokens": self.scored_tokens,
            "calls": self.calls,
            "flops": self.flops,
            "flops_with_prompt": self.flops_with_prompt,
            "seconds": self.seconds,
            "prefill_seconds": self.prefill_seconds,
            "lookahead": asdict(self.lookahead),
        }


def flops(usage: dict[str, ModelUsage]) -> float:
    """Our convention: generated tokens of every role (and tokens a reward model scored)."""
    return sum(u.flops for u in usage.values())


def flops_with_prompt(usage: dict[str, ModelUsage]) -> float:
    """Our convention plus every prompt token each role processed."""
    return sum(u.flops_with_prompt for u in usage.values())


def flops_paper(usage: dict[str, ModelUsage]) -> float:
    """The paper's convention: draft and target generated tokens, and one token per reward call
    at the reward model's size (its FLOPs table counts ~1 per step)."""
    lm = sum(2.0 * u.params * u.generated_tokens for role, u in usage.items() if role != "reward")
    reward = usage.get("reward")
    return lm + (2.0 * reward.params * reward.calls if reward else 0.0)


@dataclass
class DecodeStats:
    """What a method decided, counted while it decides (as vLLM's spec-decode metrics are).

    Metrics, ``summary.json`` and the server read these counts; nothing works them out
    again from the steps afterwards.
    """

    drafted: int = 0
    """Draft steps written where a target could have written instead (RSD's proposals)."""
    accepted: int = 0
    """Draft steps the reward judged and the rule kept."""
    rejected: int = 0
    """Draft steps the reward judged and the rule turned down; the target rewrote each."""
    degenerate: int = 0
    """Draft steps cut for looping: rejected unscored, and rewritten by the target."""
    escalated: int = 0
    """Steps the target wrote because the question had escalated (``escalate_after``)."""
    routed: int = 0
    """Steps written, unjudged, by the one model a question route chose."""
    proposed_tokens: int = 0
    """Token-level SD: draft tokens proposed to the target."""
    accepted_tokens: int = 0
    """Token-level SD: of those, the tokens the target kept."""

    @property
    def rewritten(self) -> int:
        """Draft steps the target wrote again: rejected by the rule or for looping."""
        return self.rejected + self.degenerate

    @property
    def judged(self) -> int:
        """Draft steps that could have been rejected (accepted, rejected or looping)."""
        return self.accepted + self.rewritten

    def count(self, outcome: Outcome) -> None:
        """Record one decided step."""
        if outcome in ("accepted", "rejected", "degenerate", "unjudged"):
            self.drafted += 1
        if outcome in ("accepted", "rejected", "degenerate", "escalated", "routed"):
            setattr(self, outcome, getattr(self, outcome) + 1)

    def __add__(self, other: DecodeStats) -> DecodeStats:
        return DecodeStats(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


@dataclass(frozen=True)
class RouteDecision:
    """Where a question route sent a question, and the question head's P(the draft solves it)."""

    route: Literal["target", "rsd", "draft"]
    value: float


@dataclass
class Trace:
    """The full record of answering one question with one method."""

    question: str
    method: str
    steps: list[Step] = field(default_factory=list)
    usage: dict[str, ModelUsage] = field(
        default_factory=lambda: {role: ModelUsage() for role in ROLES}
    )
    delta: float | None = None
    finish_reason: str = ""
    wall_seconds: float = 0.0
    answer: str | None = None
    route: RouteDecision | None = None
    """With a question route: where it sent the question, and the head's value."""
    stats: DecodeStats = field(default_factory=DecodeStats)
    request_prompt_tokens: int | None = None
    """Prompt tokens of the question's first model call: the prompt as OpenAI's usage counts it."""

    def note_prompt(self, tokens: int) -> None:
        """Remember the first model call's prompt size (later calls reuse its cache)."""
        if self.request_prompt_tokens is None:
            self.request_prompt_tokens = tokens

    @property
    def text(self) -> str:
        return "".join(step.text for step in self.steps)

    @property
    def flops(self) -> float:
        return flops(self.usage)

    @property
    def flops_with_prompt(self) -> float:
        return flops_with_prompt(self.usage)

    @property
    def flops_paper(self) -> float:
        return flops_paper(self.usage)

    @property
    def response_tokens(self) -> int:
        return sum(step.generated_tokens for step in self.steps)

    @property
    def draft_steps(self) -> int:
        return sum(step.source == "draft" for step in self.steps)

    @property
    def target_steps(self) -> int:
        return sum(step.source == "target" for step in self.steps)
