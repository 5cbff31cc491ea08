"""The typed records of an evaluation: one sample per finished question, and one method's metrics.

Samples are what ``samples-METHOD.jsonl`` holds, one JSON object a line;
metrics are what ``summary.json`` holds per method. Both are dataclasses,
as vLLM's spec-decode metrics are, so the runner, the metrics, the plots and
the benchmarks read named fields instead of string keys. The files keep
their layout: ``to_dict`` writes the keys earlier runs wrote, plus ``stats``,
and ``from_dict`` reads every layout we wrote (:mod:`rewardspec.codec`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from rewardspec.codec import (
    route_from_json,
    route_to_json,
    stats_of,
    stats_to_json,
    step_from_json,
    step_to_json,
    usage_from_json,
    usage_to_json,
)
from rewardspec.types import DecodeStats, Lookahead, ModelUsage, RouteDecision, Step, flops, flops_with_prompt


@dataclass
class SampleRecord:
    """One question answered by one method: the answer, its grade, its steps and their cost."""

    id: str
    method: str
    correct: bool
    steps: list[Step]
    usage: dict[str, ModelUsage]
    """Per role: draft, target, reward."""
    wall_seconds: float
    dataset: str = ""
    question: str = ""
    gold: str = ""
    answer: str | None = None
    """The answer as the grader read it (``grading.final_answer``)."""
    level: Any = None
    response: str = ""
    delta: float | None = None
    finish_reason: str = ""
    route: RouteDecision | None = None
    """RSD with a question route: where it sent the question, and the head's value."""
    stats: DecodeStats = field(default_factory=DecodeStats)
    """What the method decided while it decoded (accepted, rejected, ... steps)."""

    _ORDER = ("id", "dataset", "question", "gold", "answer", "correct", "level", "response", "method",
              "delta", "steps", "usage", "flops", "flops_with_prompt", "stats", "finish_reason", "wall_seconds")

    @property
    def flops(self) -> float:
        return flops(self.usage)

    @property
    def flops_with_prompt(self) -> float:
        return flops_with_prompt(self.usage)

    def to_dict(self) -> dict[str, Any]:
        """A samples-file line: the keys earlier runs wrote, plus ``stats``."""
        encode = {"steps": lambda v: [step_to_json(s) for s in v], "usage": usage_to_json, "stats": stats_to_json}
        data = {key: encode.get(key, lambda v: v)(getattr(self, key)) for key in self._ORDER}
        return data if self.route is None else {**data, "route": route_to_json(self.route)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SampleRecord:
        """A record from a samples file line of any layout we wrote; keys it does not know are
        ignored, and a line from before ``stats`` gets them back from its steps."""
        known = {f.name for f in fields(cls)} - {"steps", "usage", "stats", "route"}
        steps = [step_from_json(s) for s in data.get("steps", [])]
        usage = usage_from_json(data.get("usage", {}))
        method = data.get("method", "")
        stats = stats_of(data, method, steps, usage)
        return cls(**{k: v for k, v in data.items() if k in known}, steps=steps, usage=usage, stats=stats,
                   route=route_from_json(data.get("route")))

    @property
    def response_tokens(self) -> int:
        return sum(step.generated_tokens for step in self.steps)

    @property
    def generated_tokens(self) -> int:
        """Tokens every model generated for this question, discarded ones included."""
        return sum(u.generated_tokens for u in self.usage.values())


@dataclass
class ModelCost:
    """One role's average cost per question."""

    flops_per_question: float = 0.0
    flops_with_prompt_per_question: float = 0.0
    generated_tokens_per_question: float = 0.0
    lookahead: Lookahead = field(default_factory=Lookahead)
    """Proposals this role checked over the whole run (docs/lookahead.md), summed."""


@dataclass
class Comparison:
    """One method against a baseline on the same problems, with paired-bootstrap 95% intervals."""

    baseline: str
    n: int
    """Problems both methods answered; the comparison is over these alone."""
    accuracy_difference: float
    accuracy_difference_ci95: tuple[float, float] | None
    flops_ratio: float | None
    flops_ratio_ci95: tuple[float, float] | None
    wall_ratio: float | None
    wall_ratio_ci95: tuple[float, float] | None


@dataclass
class MethodMetrics:
    """Accuracy, cost and acceptance over one method's samples (``summary.json``'s ``methods.NAME``)."""

    n: int = 0
    accuracy: float | None = None
    accuracy_ci95: tuple[float, float] | None = None
    """Wilson's 95% interval."""
    vs_target: Comparison | None = None
    """Against the target alone on the same problems, where the run has it."""
    accuracy_by_level: dict[str, float] | None = None
    flops_per_question: float = 0.0
    flops_with_prompt_per_question: float = 0.0
    per_model: dict[str, ModelCost] = field(default_factory=dict)
    draft_acceptance: float | None = None
    draft_acceptance_unit: str | None = None
    """"steps" where a reward judged draft steps (rsd), "tokens" for token-level SD."""
    draft_only_fraction: float | None = None
    response_tokens_per_question: float = 0.0
    generated_tokens_per_question: float = 0.0
    wall_seconds: float = 0.0
    wall_seconds_per_question: float = 0.0
    tokens_per_second: float | None = None
    """Delivered response tokens per second: comparable across methods."""
    finish_reasons: dict[str, int] = field(default_factory=dict)
    """How answers ended: eos/stop finished; length, budget, degenerate and max_steps cut short."""
    stats: DecodeStats = field(default_factory=DecodeStats)
    """The decode statistics of every sample, added."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
