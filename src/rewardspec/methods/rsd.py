"""Reward-Guided Speculative Decoding, and its two baselines, as one step loop.

Each round: the draft writes a step, the reward model scores it, the
acceptance rule ω decides, and a rejected step is rewritten by the target
from the same prefix. ``method="target"`` and ``method="draft"`` run the
same loop with one model writing every step, so their traces and accounting
compare field by field with RSD's.

Every request carries its own budget and step counter; nothing here spans
a batch of requests. Besides ``max_tokens`` (the response) a request has a
ceiling on all the tokens its models generate, rejected drafts included, so
no question costs more than a known multiple of its answer's budget.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from rewardspec.errors import InvalidInputError
from rewardspec.grading import extract_answer
from rewardspec.methods.acceptance import (
    DEFAULT_DELTA,
    AcceptanceRule,
    check_delta,
    decide,
    make_rule,
)
from rewardspec.models.base import LanguageModel, Message, SamplingParams
from rewardspec.prompts import QWEN_MATH_COT_SYSTEM, build_messages
from rewardspec.rewards.base import RewardModel
from rewardspec.steps import DEFAULT_REPETITION_LIMIT, DEFAULT_SEPARATOR, check_stops
from rewardspec.types import Generation, RejectedDraft, Step, Trace

if TYPE_CHECKING:
    from rewardspec.methods.routing import QuestionRouter

#: Unless set, a question may generate this many times ``max_tokens``, all models together.
TOTAL_BUDGET_MULTIPLE = 4

Method = Literal["rsd", "target", "draft"]
#: The methods this loop runs; the table of every method is :mod:`rewardspec.methods.table`.
LOOP_METHODS: tuple[str, ...] = ("rsd", "target", "draft")
_ROLES_USED = {"rsd": ("draft", "target", "reward"), "target": ("target",), "draft": ("draft",)}


@dataclass(frozen=True)
class DecodeConfig:
    """Per-request limits and sampling; the same for every method."""

    max_tokens: int = 1024
    """Most tokens in the response (accepted steps); rejected drafts don't count."""
    max_steps: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    separator: str = DEFAULT_SEPARATOR
    stop: tuple[str, ...] = ()
    system_prompt: str | None = QWEN_MATH_COT_SYSTEM
    max_total_tokens: int | None = None
    """Ceiling on the tokens all models generate for one question, rejected drafts included;
    None: ``TOTAL_BUDGET_MULTIPLE x max_tokens``. Reaching it ends the answer ("budget")."""
    repetition_limit: int = DEFAULT_REPETITION_LIMIT
    """Tokens of repetition that end a step as degenerate; 0 turns loop detection off."""

    @property
    def total_budget(self) -> int:
        return self.max_total_tokens or TOTAL_BUDGET_MULTIPLE * self.max_tokens

    def sampling(self, max_tokens: int, seed: int) -> SamplingParams:
        """One model call's sampling: this config's, with that call's budget and seed."""
        return SamplingParams(max_tokens=max_tokens, temperature=self.temperature, top_p=self.top_p,
                              seed=seed, separator=self.separator, stop=self.stop,
                              repetition_limit=self.repetition_limit)

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise InvalidInputError(f"max_tokens must be at least 1; got {self.max_tokens}")
        if self.max_steps < 1:
            raise InvalidInputError(f"max_steps must be at least 1; got {self.max_steps}")
        if self.temperature < 0:
            raise InvalidInputError(f"temperature must be >= 0; got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise InvalidInputError(f"top_p must be in (0, 1]; got {self.top_p}")
        if not self.separator:
            raise InvalidInputError("the step separator must not be empty")
        if self.max_total_tokens is not None and self.max_total_tokens < self.max_tokens:
            raise InvalidInputError(
                f"max_total_tokens ({self.max_total_tokens}) must be at least max_tokens ({self.max_tokens})")
        if self.repetition_limit < 0:
            raise InvalidInputError(f"repetition_limit must be >= 0; got {self.repetition_limit}")
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


@dataclass
class RSD:
    """Solve questions with RSD (``method="rsd"``) or a single-model baseline."""

    draft: LanguageModel | None = None
    target: LanguageModel | None = None
    reward: RewardModel | None = None
    delta: float | None = None
    """δ, given here or by ``rule`` (an :class:`AcceptanceRule` object), not both; default 0.7."""
    rule: AcceptanceRule | str = "binary"
    method: Method = "rsd"
    config: DecodeConfig = field(default_factory=DecodeConfig)
    escalate_after: int = 0
    """δ per question, set while solving: after this many rejected draft steps in one question
    the target writes every later step (δ -> 1 for that question); 0 never escalates. A draft
    that has already failed the reward on this question is a sign the question is beyond it,
    and each further draft step costs a draft pass and a reward call that are likely wasted."""
    route: QuestionRouter | None = None
    """δ per question, set before solving (:mod:`rewardspec.methods.routing`): the target or the
    draft writes every step of a question that the question head finds too hard or easy enough."""

    def __post_init__(self) -> None:
        if self.method not in LOOP_METHODS:
            raise InvalidInputError(
                f"unknown method '{self.method}'; choose one of {', '.join(LOOP_METHODS)}"
            )
        self.delta, self.rule = _one_delta(self.delta, self.rule)
        if isinstance(self.escalate_after, bool) or not isinstance(self.escalate_after, int) \
                or self.escalate_after < 0:
            raise InvalidInputError(f"escalate_after must be a whole number >= 0 (0: never); got {self.escalate_after}")
        missing = [role for role in _ROLES_USED[self.method] if getattr(self, role) is None]
        if missing:
            raise InvalidInputError(f"method '{self.method}' needs a {' and a '.join(missing)} model")

    def solve(
        self,
        question: str | list[Message],
        on_step: Callable[[Step], None] | None = None,
    ) -> Trace:
        """Answer one question; ``on_step`` sees each step as soon as it is decided.

        ``question`` is the problem text (sent with the configured system
        prompt) or a full chat; reward models then judge against the last
        user message. An exception raised by ``on_step`` stops the request
        (the server uses this to cancel work for a client that went away).
        """
        cfg = self.config
        question, messages = as_chat(question, cfg.system_prompt)
        started = time.perf_counter()
        trace = Trace(question=question, method=self.method,
                      delta=self.delta if self.method == "rsd" else None)
        for role in _ROLES_USED[self.method]:
            trace.usage[role].params = getattr(self, role).params
        if self.method == "rsd" and self.route is not None:
            self._route(trace, messages)
        accept_rng = random.Random(cfg.seed)
        tokens_left = cfg.max_tokens
        finish = "max_steps"

        for index in range(cfg.max_steps):
            prefix = trace.text

            def sampling(role: str) -> SamplingParams | None:
                """This step's sampling for ``role``, or None when the question's budget is spent."""
                budget_left = cfg.total_budget - _generated(trace)
                if budget_left <= 0:
                    return None
                return cfg.sampling(min(tokens_left, budget_left), step_seed(cfg.seed, index, role))

            decided = self._round(trace, question, messages, prefix, sampling, accept_rng)
            if decided is None:
                finish = "budget"
                break
            step, gen = decided
            trace.steps.append(step)
            if on_step is not None:
                on_step(step)
            tokens_left -= step.generated_tokens
            if gen.finish_reason == "length" and tokens_left > 0:
                finish = "budget"  # cut by the question's ceiling, not by max_tokens
                break
            if gen.ends_answer:
                finish = gen.finish_reason
                break
            if tokens_left <= 0:
                finish = "length"
                break
            if _generated(trace) >= cfg.total_budget:
                finish = "budget"
                break

        trace.finish_reason = finish
        trace.answer = extract_answer(trace.text)
        trace.wall_seconds = time.perf_counter() - started
        return trace

    def _round(self, trace, question, messages, prefix, sampling, accept_rng) -> tuple[Step, Generation] | None:
        """Decide one step: it and the generation that produced it; None if the budget ran out."""
        routed = trace.route["route"] if trace.route is not None else "rsd"
        if self.method == "target" or (self.method == "rsd" and (routed == "target" or self._escalated(trace))):
            return self._write(trace, "target", messages, prefix, sampling("target"))
        drafted = self._write(trace, "draft", messages, prefix, sampling("draft"))
        if drafted is None:
            return None
        draft_step, gen = drafted
        if self.method == "draft" or routed == "draft":
            return draft_step, gen
        if not gen.text.strip() and gen.ends_answer and gen.finish_reason != "degenerate":
            # The draft ends the answer with no text: there is no step to judge.
            return draft_step, gen
        if gen.finish_reason == "degenerate":
            score = None  # a loop is rejected as it is: no reward call is spent on it
        else:
            started = time.perf_counter()
            score = self.reward.score(question, [s.text for s in trace.steps], gen.text, gen)
            trace.usage["reward"].add_score(score, time.perf_counter() - started)
            if decide(self.rule, score.value, accept_rng):
                draft_step.reward = score.value
                return draft_step, gen
        trace.usage["draft"].discarded_tokens += gen.generated_tokens
        written = self._write(trace, "target", messages, prefix, sampling("target"))
        if written is None:
            return None
        target_step, target_gen = written
        target_step.rejected_draft = RejectedDraft(gen.text, None if score is None else score.value,
                                                   gen.generated_tokens, gen.finish_reason == "degenerate")
        return target_step, target_gen

    def _route(self, trace: Trace, messages: list[Message]) -> None:
        """Route the question before its first step. The read is the draft's prefill of the
        prompt (kept in its KV cache for its first step) and one token with embeddings on."""
        started = time.perf_counter()
        route, value, processed = self.route.decide(messages)
        usage = trace.usage["draft"]
        usage.scored_tokens += 1
        usage.prompt_tokens += max(0, processed - 1)
        usage.seconds += time.perf_counter() - started
        trace.route = {"route": route, "value": round(value, 4)}

    def _escalated(self, trace: Trace) -> bool:
        rejected = sum(1 for s in trace.steps if s.rejected_draft is not None)
        return 0 < self.escalate_after <= rejected

    def _write(self, trace, role, messages, prefix, params) -> tuple[Step, Generation] | None:
        if params is None:
            return None
        model: LanguageModel = getattr(self, role)
        started = time.perf_counter()
        gen = model.generate_step(messages, prefix, params)
        trace.usage[role].add_generation(gen, time.perf_counter() - started)
        return Step(gen.text, role, None, gen.generated_tokens), gen


def _one_delta(delta: float | None, rule: AcceptanceRule | str) -> tuple[float, AcceptanceRule]:
    """δ has one source of truth: a rule object carries its own, which RSD then records."""
    if isinstance(rule, str):
        delta = check_delta(DEFAULT_DELTA if delta is None else delta)
        return delta, make_rule(rule, delta)
    decides_at = getattr(rule, "delta", None)
    if delta is not None and decides_at is not None and check_delta(delta) != decides_at:
        raise InvalidInputError(
            f"delta={delta} but the {rule.name} rule decides at {decides_at}; give δ once, to the rule or to RSD")
    chosen = decides_at if decides_at is not None else (DEFAULT_DELTA if delta is None else delta)
    return check_delta(chosen), rule


def _generated(trace: Trace) -> int:
    """Tokens the models generated for this question so far, discarded ones included."""
    return trace.usage["draft"].generated_tokens + trace.usage["target"].generated_tokens
