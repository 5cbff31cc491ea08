"""The records every method produces: generations, steps, usage and traces.

Usage is kept per *role* (draft, target, reward) rather than per model object
so that a trace from RSD and a trace from a baseline compare field by field.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Source = Literal["draft", "target"]
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

    @property
    def ends_answer(self) -> bool:
        """True when this step is the last one of the response."""
        return self.finish_reason in ("eos", "length", "stop", "degenerate")


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

    def add_score(self, score: RewardScore, seconds: float = 0.0) -> None:
        self.scored_tokens += score.scored_tokens
        self.prompt_tokens += score.prompt_tokens
        self.calls += 1
        self.seconds += seconds

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
            "seconds": round(self.seconds, 4),
            "prefill_seconds": round(self.prefill_seconds, 4),
        }


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
    route: dict[str, Any] | None = None
    """With a question route: ``{"route": "target"|"rsd"|"draft", "value": P(draft solves it)}``."""

    @property
    def text(self) -> str:
        return "".join(step.text for step in self.steps)

    @property
    def flops(self) -> float:
        return sum(u.flops for u in self.usage.values())

    @property
    def flops_with_prompt(self) -> float:
        return sum(u.flops_with_prompt for u in self.usage.values())

    @property
    def flops_paper(self) -> float:
        """The paper's convention: draft and target generated tokens, and one token per
        reward call at the reward model's size (its FLOPs table counts ~1 per step)."""
        lm = sum(2.0 * u.params * u.generated_tokens for role, u in self.usage.items() if role != "reward")
        reward = self.usage.get("reward")
        return lm + (2.0 * reward.params * reward.calls if reward else 0.0)

    @property
    def response_tokens(self) -> int:
        return sum(step.generated_tokens for step in self.steps)

    @property
    def draft_steps(self) -> int:
        return sum(step.source == "draft" for step in self.steps)

    @property
    def target_steps(self) -> int:
        return sum(step.source == "target" for step in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "method": self.method,
            "delta": self.delta,
            "answer": self.answer,
            "text": self.text,
            "steps": [asdict(step) for step in self.steps],
            "usage": {role: u.to_dict() for role, u in self.usage.items()},
            "flops": self.flops,
            "flops_with_prompt": self.flops_with_prompt,
            "flops_paper": self.flops_paper,
            "draft_steps": self.draft_steps,
            "target_steps": self.target_steps,
            "finish_reason": self.finish_reason,
            "wall_seconds": self.wall_seconds,
            **({"route": self.route} if self.route is not None else {}),
        }
