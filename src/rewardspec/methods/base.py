"""What every decoding method shares: its limits, its chat, its seeds and its one verb.

These contracts live apart from any one strategy so that RSD, the single-model
baselines, token-level SD and the search methods depend on them and not on
each other (search-and-learn's approaches share one signature the same way).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from rewardspec.errors import InvalidInputError
from rewardspec.models.base import Message, SamplingParams
from rewardspec.prompts import QWEN_MATH_COT_SYSTEM, build_messages
from rewardspec.steps import DEFAULT_REPETITION_LIMIT, DEFAULT_SEPARATOR, check_stops
from rewardspec.types import Step, Trace

#: Unless set, a question may generate this many times ``max_tokens``, all models together.
TOTAL_BUDGET_MULTIPLE = 4

OnStep = Callable[[Step], None]
"""Called with each step of the answer as soon as it is decided; raising stops the request."""


class Method(Protocol):
    """What every solver offers: answer one question, reporting each step as it is decided.

    A method that can only decide its answer at the end (best-of-N, beam) reports the
    answer's steps then, so every method streams exactly the text it returns.
    """

    method: str

    def solve(self, question: str | list[Message], on_step: OnStep | None = None) -> Trace:
        ...


@dataclass(frozen=True)
class DecodeConfig:
    """Per-request limits and sampling; the same for every method."""

    max_tokens: int = 1024
    """Most tokens in the response (accepted steps); rejected drafts don't count."""
    max_steps: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    """Sample among the k most likely tokens only; 0: all."""
    min_p: float = 0.0
    """Drop tokens less likely than min_p times the most likely; 0: none."""
    repetition_penalty: float = 1.0
    """Penalise tokens already in the prompt or response (transformers' and vLLM's rule); 1: off."""
    seed: int = 0
    separator: str = DEFAULT_SEPARATOR
    stop: tuple[str, ...] = ()
    system_prompt: str | None = QWEN_MATH_COT_SYSTEM
    max_total_tokens: int | None = None
    """Ceiling on the tokens all models generate for one question, rejected drafts included;
    None: ``TOTAL_BUDGET_MULTIPLE x max_tokens``. Reaching it ends the answer ("budget")."""
    repetition_limit: int = DEFAULT_REPETITION_LIMIT
    """Tokens of repetition that end a step as degenerate; 0 turns loop detection off."""
    rewrite_reuse: bool = False
    """RSD: the target checks the rejected draft step in batched passes and keeps what it agrees
    with (:mod:`rewardspec.models.lookahead`); what it writes is the same either way."""
    prompt_lookup: int = 0
    """Tokens per n-gram guess from the context, checked in each model's own decode; 0: off."""
    prompt_lookup_roles: tuple[str, ...] = ("draft", "target")
    """Roles whose decode uses prompt lookup (when ``prompt_lookup`` is on)."""

    @property
    def total_budget(self) -> int:
        return self.max_total_tokens or TOTAL_BUDGET_MULTIPLE * self.max_tokens

    def sampling(self, max_tokens: int, seed: int, role: str = "") -> SamplingParams:
        """One model call's sampling: this config's, with that call's budget and seed."""
        lookup = self.prompt_lookup if role in self.prompt_lookup_roles else 0
        return SamplingParams(max_tokens=max_tokens, temperature=self.temperature, top_p=self.top_p,
                              top_k=self.top_k, min_p=self.min_p, repetition_penalty=self.repetition_penalty,
                              seed=seed, separator=self.separator, stop=self.stop,
                              repetition_limit=self.repetition_limit, prompt_lookup=lookup)

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise InvalidInputError(f"max_tokens must be at least 1; got {self.max_tokens}")
        if self.max_steps < 1:
            raise InvalidInputError(f"max_steps must be at least 1; got {self.max_steps}")
        if self.temperature < 0:
            raise InvalidInputError(f"temperature must be >= 0; got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise InvalidInputError(f"top_p must be in (0, 1]; got {self.top_p}")
        if self.top_k < 0:
            raise InvalidInputError(f"top_k must be 0 (all tokens) or more; got {self.top_k}")
        if not 0 <= self.min_p <= 1:
            raise InvalidInputError(f"min_p must be in [0, 1]; got {self.min_p}")
        if not 0 < self.repetition_penalty <= 10:
            raise InvalidInputError(f"repetition_penalty must be in (0, 10]; got {self.repetition_penalty}")
        if not self.separator:
            raise InvalidInputError("the step separator must not be empty")
        if self.max_total_tokens is not None and self.max_total_tokens < self.max_tokens:
            raise InvalidInputError(
                f"max_total_tokens ({self.max_total_tokens}) must be at least max_tokens ({self.max_tokens})")
        if self.repetition_limit < 0:
            raise InvalidInputError(f"repetition_limit must be >= 0; got {self.repetition_limit}")
        if self.prompt_lookup < 0:
            raise InvalidInputError(f"prompt_lookup must be >= 0; got {self.prompt_lookup}")
        unknown = sorted(set(self.prompt_lookup_roles) - {"draft", "target"})
        if unknown:
            raise InvalidInputError(f"prompt_lookup_roles: unknown role {', '.join(unknown)}; "
                                    "expected draft, target or both")
        object.__setattr__(self, "prompt_lookup_roles", tuple(self.prompt_lookup_roles))
        object.__setattr__(self, "stop", check_stops(tuple(self.stop)))


def as_chat(question: str | list[Message], system_prompt: str | None) -> tuple[str, list[Message]]:
    """(the question's text, the chat to send): a question gets the system prompt, a chat is
    sent as it is and its last user turn is the question (what reward models judge against)."""
    if isinstance(question, list):
        messages = question
        question = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    else:
        messages = build_messages(question, system_prompt)
    if not question or not question.strip():
        raise InvalidInputError("the question is empty; pass the problem text to solve")
    return question, messages


def step_seed(seed: int, step_index: int, role: str) -> int:
    """A seed per (request, step, role): the draft's i-th step samples the same
    way in RSD and in draft-only, so δ=0 reproduces draft-only exactly."""
    return (seed * 1_000_003 + step_index * 2 + (role == "target")) % (2**32)


def report(trace: Trace, on_step: OnStep | None) -> None:
    """Report a finished answer's steps: for methods that decide the whole answer at once."""
    if on_step is not None:
        for step in trace.steps:
            on_step(step)
