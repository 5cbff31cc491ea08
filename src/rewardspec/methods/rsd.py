"""Reward-Guided Speculative Decoding: the draft proposes each step, a reward judges it.

Each round the policy (:mod:`rewardspec.methods.policy`) names the writer. Normally that is
speculation: the draft writes a step, the reward model scores it, the acceptance rule ω
decides, and a rejected step is rewritten by the target from the same prefix. A question
that a route sent to one model, or that escalated, gets its steps from that model unjudged.
The loop itself, with its budgets, is :mod:`rewardspec.methods.loop`; the single-model
baselines run the same loop (:mod:`rewardspec.methods.single`).
"""

from __future__ import annotations

import random
import time
import warnings
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from rewardspec.errors import InvalidInputError
from rewardspec.methods.acceptance import DEFAULT_DELTA, AcceptanceRule, check_delta, decide, make_rule
from rewardspec.methods.base import TOTAL_BUDGET_MULTIPLE, DecodeConfig, OnStep, as_chat, step_seed
from rewardspec.methods.loop import BudgetSpent, Clock, Decided, Round, Sampling, run_steps, write
from rewardspec.methods.policy import QuestionPolicy
from rewardspec.models.base import LanguageModel, Message
from rewardspec.rewards.base import RewardModel
from rewardspec.types import RejectedDraft, Trace

if TYPE_CHECKING:
    from rewardspec.methods.routing import QuestionRouter

# Kept importable from here: code written against earlier releases imports them from rsd.
__all__ = ["RSD", "DecodeConfig", "TOTAL_BUDGET_MULTIPLE", "as_chat", "step_seed"]

_ROLES = ("draft", "target", "reward")


@dataclass
class RSD:
    """Solve questions with reward-guided speculative decoding."""

    draft: LanguageModel | None = None
    target: LanguageModel | None = None
    reward: RewardModel | None = None
    delta: float | None = None
    """δ, given here or by ``rule`` (an :class:`AcceptanceRule` object), not both; default 0.7."""
    rule: AcceptanceRule | str = "binary"
    method: str = "rsd"
    config: DecodeConfig = field(default_factory=DecodeConfig)
    escalate_after: int = 0
    """δ per question, set while solving: after this many rewritten draft steps in one question
    the target writes every later step (δ -> 1 for that question); 0 never escalates."""
    route: QuestionRouter | None = None
    """δ per question, set before solving (:mod:`rewardspec.methods.routing`)."""
    clock: Clock = field(default=time.perf_counter, repr=False)

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        """``RSD(method="target"|"draft")`` gives that baseline, a :class:`SingleModel`, with a
        DeprecationWarning, so that code written against release 0.1.0 keeps running."""
        names = [f.name for f in fields(cls)]
        given = {**dict(zip(names, args)), **kwargs}
        role = given.get("method", "rsd")
        if role not in ("target", "draft"):
            return super().__new__(cls)
        from rewardspec.methods.single import SingleModel

        warnings.warn(f"RSD(method='{role}') is SingleModel({role}_model, '{role}') since 0.2.0",
                      DeprecationWarning, stacklevel=2)
        return SingleModel(given.get(role), role, given.get("config") or DecodeConfig(),
                           given.get("clock", time.perf_counter))

    def __post_init__(self) -> None:
        if self.method != "rsd":
            raise InvalidInputError(
                f"RSD runs method 'rsd'; for '{self.method}' alone use "
                f"SingleModel({self.method}_model, role='{self.method}') from rewardspec.methods.single")
        self.delta, self.rule = _one_delta(self.delta, self.rule)
        QuestionPolicy(self.escalate_after, self.route)  # checked now, not at the first question
        missing = [role for role in _ROLES if getattr(self, role) is None]
        if missing:
            raise InvalidInputError(f"method 'rsd' needs a {' and a '.join(missing)} model")

    def solve(self, question: str | list[Message], on_step: OnStep | None = None) -> Trace:
        """Answer one question; ``on_step`` sees each step as soon as it is decided.

        ``question`` is the problem text (sent with the configured system
        prompt) or a full chat; reward models then judge against the last
        user message. An exception raised by ``on_step`` stops the request
        (the server uses this to cancel work for a client that went away).
        """
        started = self.clock()
        question, messages = as_chat(question, self.config.system_prompt)
        trace = Trace(question=question, method=self.method, delta=self.delta)
        for role in _ROLES:
            trace.usage[role].params = getattr(self, role).params
        policy = QuestionPolicy(self.escalate_after, self.route)  # as the fields are now
        policy.start(trace, messages, self.clock)
        accept_rng = random.Random(self.config.seed)

        def round_(index: int, prefix: str, sampling: Sampling) -> Round:
            return self._round(trace, policy, question, messages, prefix, sampling, accept_rng)

        return run_steps(trace, self.config, round_, on_step, self.clock, started)

    def _round(self, trace: Trace, policy: QuestionPolicy, question: str, messages: list[Message],
               prefix: str, sampling: Sampling, accept_rng: random.Random) -> Round:
        """Decide one step: the policy's writer, or a draft step the reward judges."""
        writer, outcome = policy.writer(trace)
        if writer != "speculate":
            model = self.target if writer == "target" else self.draft
            written = write(trace, writer, model, messages, prefix, sampling(writer), self.clock)
            return BudgetSpent() if written is None else Decided(*written, outcome)
        drafted = write(trace, "draft", self.draft, messages, prefix, sampling("draft"), self.clock)
        if drafted is None:
            return BudgetSpent()
        draft_step, gen = drafted
        if not gen.text.strip() and gen.ends_answer and gen.finish_reason != "degenerate":
            return Decided(draft_step, gen, "unjudged")  # the draft ends the answer: nothing to judge
        if gen.finish_reason == "degenerate":
            score, outcome = None, "degenerate"  # a loop is rejected as it is: no reward call spent
        else:
            started = self.clock()
            score = self.reward.score(question, [s.text for s in trace.steps], gen.text, gen)
            trace.usage["reward"].add_score(score, self.clock() - started)
            if decide(self.rule, score.value, accept_rng):
                draft_step.reward = score.value
                return Decided(draft_step, gen, "accepted")
            outcome = "rejected"
        trace.usage["draft"].discarded_tokens += gen.generated_tokens
        rewrite = sampling("target")
        if rewrite is not None and self.config.rewrite_reuse:
            rewrite = replace(rewrite, proposal=gen.text)  # checked, not trusted: the text is the target's
        written = write(trace, "target", self.target, messages, prefix, rewrite, self.clock)
        if written is None:
            return BudgetSpent()
        target_step, target_gen = written
        target_step.rejected_draft = RejectedDraft(gen.text, None if score is None else score.value,
                                                   gen.generated_tokens, score is None)
        return Decided(target_step, target_gen, outcome)


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
