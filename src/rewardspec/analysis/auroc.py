"""AUROC without scikit-learn: the benchmarks rank rewards by it on a few hundred scores."""

from __future__ import annotations

from collections.abc import Sequence


def auroc(scores_bad: Sequence[float], scores_good: Sequence[float]) -> float:
    """P(a random bad item scores lower than a random good one); ties count half.

    NaN where either side is empty: a reward cannot be ranked on one class alone, and a
    number there would read as a measurement.
    """
    if not scores_bad or not scores_good:
        return float("nan")
    wins = sum((b < g) + 0.5 * (b == g) for b in scores_bad for g in scores_good)
    return wins / (len(scores_bad) * len(scores_good))
