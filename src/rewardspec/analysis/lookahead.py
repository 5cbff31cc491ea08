"""What checking proposals costs and saves: the pass-cost curve of a model on this machine, and a
replay of written answers under any curve (benchmarks/lookahead.py).

A verify pass over k tokens costs ``c(k)`` decode passes. Where decoding is memory-bound (a GPU
at small batch) ``c(k)`` stays near 1 for small k, and every kept token is a pass saved; on a
few CPU cores it grows nearly linearly, and a guess pays only when most of it is kept. The
replay reads the answers as written (greedy, so the tokens are fixed), walks each step through
a :class:`~rewardspec.models.lookahead.Proposer` exactly as ``write_step`` would, and prices
the passes it would run under a curve: the measured one, or an assumed one for hardware we
cannot run here. The result is a *simulated* figure, kept apart from measured ones.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rewardspec.models.lookahead import Proposer

CostCurve = Callable[[int], float]
"""c(k): the cost of one pass over k tokens, in single-token decode passes (c(1) == 1)."""

PASS_SIZES = (1, 2, 3, 4, 5, 8, 12, 17, 24, 33)


def measure_pass_costs(model, sizes: Sequence[int] = PASS_SIZES, reps: int = 5,
                       context: str = "") -> dict[int, float]:
    """``c(k)`` of an in-process llama.cpp model, medians of ``reps`` passes after a fixed context."""
    from rewardspec.models.llama_cpp import eval_rows

    llm = model.llm
    base = model._encode(context or _CONTEXT)
    tokens = (model._encode(_CONTINUATION) * 4)[: max(sizes)]
    with model._lock:
        model.llm.n_tokens = 0
        llm.eval(base)
        start = llm.n_tokens
        seconds: dict[int, list[float]] = {k: [] for k in sizes}
        for _ in range(reps):
            for k in sizes:
                llm.n_tokens = start
                began = time.perf_counter()
                if k == 1:
                    llm.eval(tokens[:1])
                else:
                    eval_rows(llm, tokens[:k], model.n_vocab)
                seconds[k].append(time.perf_counter() - began)
        llm.n_tokens = 0
    one = statistics.median(seconds[1])
    return {k: statistics.median(v) / one for k, v in seconds.items()} | {0: one}


def curve(points: dict[int, float]) -> CostCurve:
    """A cost curve through measured points (``points[0]`` is the seconds of one decode, skipped),
    linear between them and beyond the last."""
    known = sorted((k, c) for k, c in points.items() if k >= 1)

    def c(k: int) -> float:
        for (k0, c0), (k1, c1) in zip(known, known[1:]):
            if k0 <= k <= k1:
                return c0 + (c1 - c0) * (k - k0) / (k1 - k0)
        last_k, last_c = known[-1]
        return last_c * k / last_k

    return c


def memory_bound(k: int) -> float:
    """The assumed accelerator curve: a pass over a few dozen tokens costs one decode pass."""
    return 1.0


@dataclass
class Replay:
    """Passes one role's decode would run with proposals, priced, against one pass per token."""

    cost: float = 0.0
    plain: float = 0.0
    kept: int = 0
    offered: int = 0
    tokens: int = 0

    @property
    def ratio(self) -> float:
        """Decode cost with proposals ÷ without."""
        return self.cost / self.plain if self.plain else 1.0

    @property
    def kept_share(self) -> float:
        return self.kept / self.tokens if self.tokens else 0.0

    def add(self, other: Replay) -> None:
        for name in ("cost", "plain", "kept", "offered", "tokens"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def replay_step(step: Sequence[int], proposer: Proposer, c: CostCurve) -> Replay:
    """Walk one written step's tokens as ``write_step`` would, pricing each pass under ``c``."""
    out = Replay(tokens=len(step), plain=float(max(len(step) - 1, 0)))
    i = 0
    while i < len(step) - 1:  # token i is chosen; it is run (alone, or with a guess)
        guess, _ = proposer.propose(step[: i + 1])  # untrimmed: the writer does not know where the step ends
        if not guess:
            out.cost += 1.0
            i += 1
            continue
        out.cost += c(len(guess) + 1)
        out.offered += len(guess)
        kept = 0
        while kept < len(guess) and i + 1 + kept < len(step) and guess[kept] == step[i + 1 + kept]:
            kept += 1
        out.kept += kept
        i += kept + 1
    return out


def replay(steps: Iterable[tuple[Sequence[int], Proposer]], c: CostCurve) -> Replay:
    total = Replay()
    for tokens, proposer in steps:
        total.add(replay_step(tokens, proposer, c))
    return total


_CONTEXT = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in "
            "May. How many clips did Natalia sell altogether in April and May? Think step by step. ") * 3
_CONTINUATION = (" In April she sold 48 clips. In May she sold half as many, which is 48 / 2 = 24 clips. "
                 "Altogether she sold 48 + 24 = 72 clips in April and May. So the answer is 72.")
