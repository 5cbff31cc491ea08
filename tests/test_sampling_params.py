"""top_k, min_p and repetition_penalty: honoured by every backend row, refused where they cannot be.

The sampler's rules are pure logic; the table test runs each backend as a user would (llama.cpp
on the embedded SmolLM2, transformers on a tiny random Qwen2, a server on scripted replies), so a
new backend row that drops one of them fails here.
"""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from rewardspec.errors import InvalidInputError
from rewardspec.methods.base import DecodeConfig
from rewardspec.models import BACKENDS
from rewardspec.models.base import SamplingParams
from rewardspec.models.stepping import sample_token

LOGITS = np.array([2.0, 1.9, 1.0, -1.0, -1.1], dtype=np.float32)


def draws(n: int = 300, **kw) -> set[int]:
    rng = np.random.default_rng(0)
    return {sample_token(LOGITS, 1.0, 1.0, rng, **kw)[0] for _ in range(n)}


def test_top_k_keeps_the_k_most_likely_tokens():
    assert draws(top_k=1) == {0} and draws(top_k=2) == {0, 1} and len(draws()) == 5


def test_min_p_drops_tokens_less_likely_than_its_share_of_the_best():
    # p(2) / p(0) = e^-1 = 0.37; p(3) / p(0) = e^-3 = 0.05
    assert draws(min_p=0.3) == {0, 1, 2}
    assert 3 not in draws(min_p=0.06) and 3 in draws(n=2000, min_p=0.04)


def test_the_repetition_penalty_divides_positive_logits_and_multiplies_negative_ones():
    seen = np.zeros(len(LOGITS), dtype=bool)
    seen[[0, 3]] = True
    token, logprob = sample_token(LOGITS, 0.0, 1.0, np.random.default_rng(0), penalty=1.2, seen=seen)
    assert token == 1  # 2.0 / 1.2 < 1.9
    # the log-probability reported is the model's own, unpenalised (what the likelihood reward reads)
    assert logprob == pytest.approx(float(LOGITS[1] - np.log(np.exp(LOGITS.astype(np.float64)).sum())), abs=1e-5)
    rng = np.random.default_rng(0)
    penalised = [sample_token(LOGITS, 1.0, 1.0, rng, penalty=3.0, seen=seen)[0] for _ in range(2000)]
    assert penalised.count(3) < penalised.count(4)  # -1.0 * 3 now below -1.1


def test_bad_values_are_refused_in_one_line_wherever_they_are_given():
    from rewardspec.settings import solver_settings

    for bad in (dict(top_k=-1), dict(min_p=1.5), dict(repetition_penalty=0)):
        with pytest.raises(InvalidInputError):
            DecodeConfig(**bad)
        with pytest.raises(InvalidInputError, match=next(iter(bad))):
            solver_settings(**bad)


def test_token_level_sd_refuses_a_repetition_penalty_it_could_not_apply():
    from rewardspec.methods.speculative import SpeculativeDecoding

    with pytest.raises(InvalidInputError, match="repetition_penalty"):
        SpeculativeDecoding("draft.gguf", "target.gguf", 1, 2, config=DecodeConfig(repetition_penalty=1.3))


CHAT = [{"role": "user", "content": "Name a colour and say why you like it."}]


def _same_text_for_two_seeds_at_top_k_one(model) -> None:
    texts = {model.generate_step(CHAT, "", SamplingParams(max_tokens=12, temperature=1.0, top_k=1, seed=seed)).text
             for seed in (1, 2)}
    greedy = model.generate_step(CHAT, "", SamplingParams(max_tokens=12)).text
    assert texts == {greedy}
    free = {model.generate_step(CHAT, "", SamplingParams(max_tokens=12, temperature=1.0, seed=seed)).text
            for seed in range(1, 5)}
    assert len(free) > 1  # the seeds do differ without it: top_k is what made them agree


def _llama_cpp() -> None:
    from rewardspec.models import load_model

    _same_text_for_two_seeds_at_top_k_one(load_model("smollm2-135m"))


def _transformers() -> None:
    pytest.importorskip("torch")
    from prm_fixtures import checkpoint

    from rewardspec.models import load_model

    _same_text_for_two_seeds_at_top_k_one(load_model(f"transformers:{checkpoint('causal-qwen2')[0]}?device=cpu"
                                                     "&dtype=float32"))


def _openai() -> None:
    """A server samples itself: the values must reach it, under each server's name for them."""
    from test_remote_logic import _piece, _sse, scripted_model

    model, seen = scripted_model([httpx.Response(200, text=_sse(_piece("Blue.\n\n")))] * 2)
    model.generate_step(CHAT, "", SamplingParams(max_tokens=12, temperature=1.0, top_k=5, min_p=0.1,
                                                 repetition_penalty=1.2))
    model.generate_step(CHAT, "", SamplingParams(max_tokens=12))
    sent, neutral = seen
    assert (sent["top_k"], sent["min_p"], sent["repetition_penalty"], sent["repeat_penalty"]) == (5, 0.1, 1.2, 1.2)
    # Left at their defaults they are still sent, neutral, so no server applies its own
    assert (neutral["top_k"], neutral["min_p"], neutral["repeat_penalty"]) == (0, 0.0, 1.0)


EXERCISE = {"llama.cpp": _llama_cpp, "transformers": _transformers, "openai": _openai}


@pytest.mark.models
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_every_backend_row_honours_top_k_min_p_and_the_repetition_penalty(backend):
    assert set(EXERCISE) == set(BACKENDS), "a new backend row needs its exercise here"
    EXERCISE[backend]()


def test_sglangs_refusal_of_top_k_zero_is_answered_with_its_own_spelling():
    from test_remote_logic import _piece, _sse, scripted_model

    refused = httpx.Response(400, json={"object": "error", "message": "top_k must be -1 (disable), or at least 1"})
    model, seen = scripted_model([refused, httpx.Response(200, text=_sse(_piece("Blue.\n\n")))] * 1
                                 + [httpx.Response(200, text=_sse(_piece("Red.\n\n")))])
    assert model.generate_step(CHAT, "", SamplingParams(max_tokens=12)).text == "Blue.\n\n"
    model.generate_step(CHAT, "", SamplingParams(max_tokens=12))
    assert [body["top_k"] for body in seen] == [0, -1, -1]
    assert json.dumps(seen[1]).count('"top_k"') == 1
