"""The typed records of an evaluation: one sample per finished question, and one method's metrics.

Samples are what ``samples-METHOD.jsonl`` holds, one JSON object a line;
metrics are what ``summary.json`` holds per method. Both are dataclasses,
as vLLM's spec-decode metrics are, so the runner, the metrics, the plots and
the benchmarks read named fields instead of string keys. The files keep
their layout: ``to_dict`` writes exactly the keys earlier runs wrote.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class SampleRecord:
    """One question answered by one method: the answer, its grade, its steps and their cost."""

    id: str
    method: str
    correct: bool
    steps: list[dict[str, Any]]
    """Each step as ``Step`` writes it: text, source, reward, generated_tokens, rejected_draft."""
    usage: dict[str, dict[str, Any]]
    """Per role (draft, target, reward), as ``ModelUsage.to_dict`` writes it."""
    flops: float
    flops_with_prompt: float
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
    route: dict[str, Any] | None = None
    """RSD with a question route: where it sent the question, and the head's value."""

    _ORDER = ("id", "dataset", "question", "gold", "answer", "correct", "level", "response", "method",
              "delta", "steps", "usage", "flops", "flops_with_prompt", "finish_reason", "wall_seconds")

    def to_dict(self) -> dict[str, Any]:
        data = {key: getattr(self, key) for key in self._ORDER}
        return data if self.route is None else {**data, "route": self.route}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SampleRecord:
        """A record from a samples file line; keys it does not know are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def response_tokens(self) -> int:
        return sum(step["generated_tokens"] for step in self.steps)

    @property
    def generated_tokens(self) -> int:
        """Tokens every model generated for this question, discarded ones included."""
        return sum(u["generated_tokens"] for u in self.usage.values())


@dataclass
class ModelCost:
    """One role's average cost per question."""

    flops_per_question: float = 0.0
    flops_with_prompt_per_question: float = 0.0
    generated_tokens_per_question: float = 0.0


@dataclass
class MethodMetrics:
    """Accuracy, cost and acceptance over one method's samples (``summary.json``'s ``methods.NAME``)."""

    n: int = 0
    accuracy: float | None = None
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
