"""Acceptance rules ω(r): how a step's reward turns into accept or reject.

The paper (Liao et al. 2025, §3) mixes the draft and target distributions
with a weight ω(r) of the draft step's reward. The binary rule
ω(r) = 1[r >= δ] is the one it evaluates and our default; the soft rules treat
ω(r) as a probability of accepting and draw against a seeded RNG so that runs
repeat exactly.

Each rule is one row of :data:`RULE_KINDS`: its name and how it is built from
δ. A new rule is a frozen dataclass here and one row there; ``RULES``, the
names configs and ``--help`` offer, is read from the table.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from rewardspec.errors import InvalidInputError

DEFAULT_DELTA = 0.7


def check_delta(delta: float) -> float:
    if not isinstance(delta, (int, float)) or math.isnan(delta) or not 0.0 <= delta <= 1.0:
        raise InvalidInputError(
            f"delta must be a number in [0, 1] (rewards lie in [0, 1]); got {delta}"
        )
    return float(delta)


class AcceptanceRule(Protocol):
    name: str
    delta: float | None

    def weight(self, reward: float) -> float:
        """ω(r) in [0, 1]: the probability of keeping the draft step."""
        ...


@dataclass(frozen=True)
class BinaryRule:
    """Accept iff r >= δ. δ = 0 accepts everything."""

    delta: float = DEFAULT_DELTA
    name: str = "binary"

    def __post_init__(self) -> None:
        check_delta(self.delta)

    def weight(self, reward: float) -> float:
        return 1.0 if reward >= self.delta else 0.0


@dataclass(frozen=True)
class ClipRule:
    """ω(r) = min(1, r / δ): always keep steps above δ, below it keep some in proportion."""

    delta: float = DEFAULT_DELTA
    name: str = "clip"

    def __post_init__(self) -> None:
        check_delta(self.delta)

    def weight(self, reward: float) -> float:
        if self.delta == 0.0:
            return 1.0
        return min(1.0, max(0.0, reward / self.delta))


@dataclass(frozen=True)
class SigmoidRule:
    """ω(r) = σ(k (r - δ)): a smooth step centred on δ; large k approaches binary."""

    delta: float = DEFAULT_DELTA
    sharpness: float = 20.0
    name: str = "sigmoid"

    def __post_init__(self) -> None:
        check_delta(self.delta)
        if not self.sharpness > 0:
            raise InvalidInputError(f"sigmoid sharpness must be > 0; got {self.sharpness}")

    def weight(self, reward: float) -> float:
        return 1.0 / (1.0 + math.exp(-self.sharpness * (reward - self.delta)))


@dataclass(frozen=True)
class ConstantRule:
    """Accept always (ω = 1) or never (ω = 0), whatever the reward: for tests and ablations."""

    accept: bool
    name: str = "constant"
    delta: float | None = None

    def weight(self, reward: float) -> float:
        return 1.0 if self.accept else 0.0


@dataclass(frozen=True)
class RuleKind:
    """One row of the rules table."""

    name: str
    build: Callable[[float], AcceptanceRule]
    """δ -> the rule (δ is checked before, whatever the rule)."""
    listed: bool = True
    """Offered to users (configs, --help); the constant rules are for tests and ablations."""


RULE_KINDS: dict[str, RuleKind] = {row.name: row for row in (
    RuleKind("binary", BinaryRule),
    RuleKind("clip", ClipRule),
    RuleKind("sigmoid", SigmoidRule),
    RuleKind("always", lambda delta: ConstantRule(accept=True), listed=False),
    RuleKind("never", lambda delta: ConstantRule(accept=False), listed=False),
)}
RULES = tuple(name for name, row in RULE_KINDS.items() if row.listed)


def make_rule(name: str = "binary", delta: float = DEFAULT_DELTA) -> AcceptanceRule:
    """Build a rule by name; δ is checked whatever the rule."""
    check_delta(delta)
    row = RULE_KINDS.get(name)
    if row is None:
        raise InvalidInputError(f"unknown acceptance rule '{name}'; choose one of {', '.join(RULES)}")
    return row.build(delta)


def decide(rule: AcceptanceRule, reward: float, rng: random.Random) -> bool:
    """Accept or reject; draws from ``rng`` only when ω is strictly between 0 and 1."""
    w = rule.weight(reward)
    if w >= 1.0:
        return True
    if w <= 0.0:
        return False
    return rng.random() < w
