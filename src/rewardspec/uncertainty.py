"""95% intervals for the figures an evaluation reports.

Conclusions here are drawn from tens or hundreds of problems, where an accuracy near 50%
is uncertain by ±10 points (n = 100) to ±18 (n = 30): a figure is not read without its
interval. Accuracy gets Wilson's score interval (sound near 0 and 1, where the normal
approximation is not); a difference or ratio between two methods on the same problems
gets a paired bootstrap, which keeps the correlation between them (both see the same hard
questions) that independent intervals would throw away.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959963984540054
BOOTSTRAP_SAMPLES = 4000


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson's score interval for a proportion; None when there is nothing to estimate."""
    if n <= 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # Clipped to the proportion itself: at 0 or 1 rounding would put the end a hair past it.
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


def _resamples(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(BOOTSTRAP_SAMPLES, n))


def paired_difference(a: Sequence[float], b: Sequence[float], seed: int = 0
                      ) -> tuple[float, tuple[float, float] | None]:
    """mean(a) - mean(b) over the same problems, with a paired percentile-bootstrap 95% interval."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.size == 0:
        raise ValueError("a paired difference needs two equally long, non-empty series")
    diff = x - y
    if x.size < 2:
        return float(diff.mean()), None
    means = diff[_resamples(x.size, seed)].mean(axis=1)
    return float(diff.mean()), (float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5)))


def paired_ratio(a: Sequence[float], b: Sequence[float], seed: int = 0
                 ) -> tuple[float, tuple[float, float] | None]:
    """mean(a) / mean(b) over the same problems (a cost ratio), with a paired bootstrap interval."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.size == 0 or y.sum() == 0:
        raise ValueError("a paired ratio needs two equally long, non-empty series, the second not all 0")
    if x.size < 2:
        return float(x.mean() / y.mean()), None
    idx = _resamples(x.size, seed)
    ratios = x[idx].mean(axis=1) / np.maximum(y[idx].mean(axis=1), np.finfo(float).tiny)
    return float(x.mean() / y.mean()), (float(np.percentile(ratios, 2.5)), float(np.percentile(ratios, 97.5)))
