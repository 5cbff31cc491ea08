"""The token sampler, checked against the plain float64, full-sort definition it replaces."""

from __future__ import annotations

import numpy as np
import pytest

from rewardspec.models.stepping import sample_token


def _reference_logprob(logits: np.ndarray, token: int) -> float:
    x = logits.astype(np.float64)
    x -= x.max()
    return float(x[token] - np.log(np.exp(x).sum()))


def _reference_nucleus(logits: np.ndarray, temperature: float, top_p: float) -> set[int]:
    x = logits.astype(np.float64) / temperature
    p = np.exp(x - x.max())
    p /= p.sum()
    order = np.argsort(-p, kind="stable")
    cum = np.cumsum(p[order])
    return {int(t) for t in order[: int(np.searchsorted(cum, top_p)) + 1]}


@pytest.mark.parametrize("vocab", [50, 5000, 151936])
def test_greedy_picks_the_argmax_with_its_float64_logprob(vocab):
    rng = np.random.default_rng(vocab)
    for _ in range(5):
        logits = (rng.standard_normal(vocab) * 4).astype(np.float32)
        token, logprob = sample_token(logits, 0.0, 1.0, rng)
        assert token == int(np.argmax(logits))
        assert logprob == pytest.approx(_reference_logprob(logits, token), abs=1e-5)
        assert logprob <= 0


def test_the_logprob_is_of_the_unscaled_distribution_at_any_temperature():
    rng = np.random.default_rng(1)
    logits = (rng.standard_normal(1000) * 2).astype(np.float32)
    for seed in range(20):
        token, logprob = sample_token(logits, 0.7, 0.9, np.random.default_rng(seed))
        assert logprob == pytest.approx(_reference_logprob(logits, token), abs=1e-5)


@pytest.mark.parametrize("peaked", [True, False])
def test_nucleus_sampling_draws_only_from_the_exact_nucleus(peaked):
    """Both paths: the nucleus inside the top 64 (peaked), and the full sort (flat)."""
    rng = np.random.default_rng(7)
    scale = 6.0 if peaked else 0.05
    logits = (rng.standard_normal(3000) * scale).astype(np.float32)
    nucleus = _reference_nucleus(logits, 1.0, 0.8)
    assert (len(nucleus) < 64) == peaked
    drawn = {sample_token(logits, 1.0, 0.8, np.random.default_rng(seed))[0] for seed in range(400)}
    assert drawn <= nucleus
    if peaked:
        assert len(drawn) > 1


def test_the_same_seed_draws_the_same_token():
    logits = np.random.default_rng(3).standard_normal(20000).astype(np.float32)
    first = [sample_token(logits, 0.8, 0.95, np.random.default_rng(s))[0] for s in range(30)]
    again = [sample_token(logits, 0.8, 0.95, np.random.default_rng(s))[0] for s in range(30)]
    assert first == again and len(set(first)) > 1
