"""The transformers LanguageModel: same semantics as the llama.cpp backend.

Most tests run a tiny random Qwen2 checkpoint built here and compare with a
direct computation on the same weights; one (marked ``models``) runs the
real SmolLM2-135M GGUF through transformers.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from prm_fixtures import checkpoint  # noqa: E402

from rewardspec.models import load_model  # noqa: E402
from rewardspec.models.base import SamplingParams  # noqa: E402
from rewardspec.models.transformers_backend import StepRequest, TransformersModel  # noqa: E402
from rewardspec.steps import find_step_end  # noqa: E402

MESSAGES = [{"role": "system", "content": "Please reason step by step."},
            {"role": "user", "content": "What is 12 * 7 - 5?"}]
OTHER = [{"role": "user", "content": "Janet has 16 eggs and eats 3. How many are left?"}]


def greedy(n: int, separator: str = "", **kw) -> SamplingParams:
    return SamplingParams(max_tokens=n, temperature=0.0, separator=separator, **kw)


@pytest.fixture(scope="module")
def lm():
    directory = checkpoint("causal-qwen2")[0]
    return load_model(f"transformers:{directory}?device=cpu&dtype=float32")


def fresh() -> TransformersModel:
    return TransformersModel(str(checkpoint("causal-qwen2")[0]), device="cpu", dtype="float32")


def reference_greedy(model: TransformersModel, messages, prefix: str, n: int):
    """Argmax over a full forward pass per token, no cache: tokens and their log-probs."""
    ids = model._tokens(messages, prefix)
    out, logprobs = [], []
    with torch.no_grad():
        for _ in range(n):
            logits = model.model(torch.tensor([ids + out])).logits[0, -1].double()
            token = int(torch.argmax(logits))
            out.append(token)
            logprobs.append(float(torch.log_softmax(logits, -1)[token]))
            if token in model._eos:
                break
    return out, logprobs


def test_greedy_matches_a_direct_computation(lm):
    tokens, logprobs = reference_greedy(lm, MESSAGES, "", 12)
    g = lm.generate_step(MESSAGES, "", greedy(12))
    assert g.generated_tokens == len(tokens) and g.finish_reason in ("length", "eos")
    assert g.text == lm._decode(tokens[:-1] if g.finish_reason == "eos" else tokens)
    assert g.token_logprobs == pytest.approx(logprobs, abs=1e-4)
    assert g.prompt_tokens == len(lm._tokens(MESSAGES, ""))  # nothing cached for this chat yet
    assert lm.params == sum(p.numel() for p in lm.model.parameters())


def test_stops_on_the_separator_found_in_decoded_text(lm):
    tokens, _ = reference_greedy(lm, OTHER, "", 16)
    text = lm._decode(tokens)
    start = next(i for i in range(1, len(text) - 2)
                 if text[:i].strip() and "\ufffd" not in text[i:i + 2])
    separator = text[start:start + 2]
    end = find_step_end(text, separator)
    needed = next(n for n in range(1, len(tokens) + 1)
                  if find_step_end(lm._decode(tokens[:n]), separator) is not None)
    g = lm.generate_step(OTHER, "", greedy(16, separator))
    assert (g.finish_reason, g.text, g.generated_tokens) == ("step", text[:end], needed)
    s = lm.generate_step(OTHER, "", greedy(16, stop=(separator,)))
    assert (s.finish_reason, s.text) == ("stop", text[: text.find(separator)])


def test_end_of_answer_and_budget(lm, monkeypatch):
    tokens, _ = reference_greedy(lm, OTHER, "", 4)
    monkeypatch.setattr(lm, "_eos", {tokens[2]})
    g = lm.generate_step(OTHER, "", greedy(8))
    assert (g.finish_reason, g.generated_tokens, g.text) == ("eos", 3, lm._decode(tokens[:2]))
    assert g.ends_answer
    assert lm.generate_step(OTHER, "", greedy(0)).finish_reason == "length"


def test_seeded_sampling_does_not_depend_on_call_history(lm):
    hot = SamplingParams(max_tokens=10, temperature=1.0, seed=7, separator="")
    first = lm.generate_step(MESSAGES, "", hot)
    lm.generate_step(OTHER, "abc", SamplingParams(max_tokens=5, temperature=1.0, seed=99))
    again = lm.generate_step(MESSAGES, "", hot)
    assert (again.text, again.token_logprobs) == (first.text, first.token_logprobs)
    other_seed = lm.generate_step(MESSAGES, "", SamplingParams(max_tokens=10, temperature=1.0,
                                                               seed=8, separator=""))
    assert other_seed.text != first.text
    # a nucleus this small keeps only the most likely token: greedy
    nucleus = lm.generate_step(MESSAGES, "", SamplingParams(
        max_tokens=10, temperature=1.0, top_p=1e-6, seed=3, separator=""))
    assert nucleus.text == lm.generate_step(MESSAGES, "", greedy(10)).text


def test_kv_cache_reuse_counts_only_new_tokens_and_changes_nothing():
    cached, scratch = fresh(), fresh()
    first = cached.generate_step(MESSAGES, "", greedy(8))
    full = len(cached._tokens(MESSAGES, first.text))
    second = cached.generate_step(MESSAGES, first.text, greedy(8))
    scratch_second = scratch.generate_step(MESSAGES, first.text, greedy(8))
    assert scratch_second.prompt_tokens == full
    assert 1 <= second.prompt_tokens <= len(cached._tokens(MESSAGES, first.text)) - len(
        cached._tokens(MESSAGES, "")) + 1
    assert second.prompt_tokens < full
    assert second.text == scratch_second.text
    assert second.token_logprobs == pytest.approx(scratch_second.token_logprobs, abs=1e-4)
    # another request in between keeps its own slot
    cached.generate_step(OTHER, "", greedy(4))
    third = cached.generate_step(MESSAGES, first.text + second.text, greedy(4))
    assert third.prompt_tokens < len(cached._tokens(MESSAGES, first.text + second.text)) // 2


def test_score_continuation_matches_a_direct_computation():
    model = fresh()
    prefix, continuation = "First, 12 * 7 = 84.", " Then 84 - 5 = 79."
    context = model._tokens(MESSAGES, prefix)
    cont = model.tokenizer.encode(continuation, add_special_tokens=False)
    with torch.no_grad():
        logits = model.model(torch.tensor([context + cont])).logits[0].double()
    rows = torch.log_softmax(logits[len(context) - 1:-1], -1)
    expected = rows[torch.arange(len(cont)), torch.tensor(cont)].tolist()
    got = model.score_continuation(MESSAGES, prefix, continuation)
    assert got.token_logprobs == pytest.approx(expected, abs=1e-4)
    assert got.prompt_tokens == len(context)
    again = model.score_continuation(MESSAGES, prefix, continuation)
    assert again.prompt_tokens == 1 and again.token_logprobs == pytest.approx(expected, abs=1e-4)
    assert model.score_continuation(MESSAGES, prefix, "").token_logprobs == []


def test_generate_steps_batches_requests_like_single_calls(lm):
    requests = [
        StepRequest(MESSAGES, "", greedy(10)),
        StepRequest(OTHER, "She has", greedy(6)),
        (OTHER, "", SamplingParams(max_tokens=8, temperature=1.0, seed=5, separator="")),
        StepRequest(MESSAGES, "First,", greedy(0)),
    ]
    batch = lm.generate_steps(requests)
    singles = [lm.generate_step(*(r if isinstance(r, tuple) else
                                  (r.messages, r.response_prefix, r.sampling)))
               for r in requests]
    for b, s, r in zip(batch, singles, requests):
        assert (b.text, b.generated_tokens, b.finish_reason) == (
            s.text, s.generated_tokens, s.finish_reason)
        assert b.token_logprobs == pytest.approx(s.token_logprobs, abs=1e-4)
        messages, prefix = (r[0], r[1]) if isinstance(r, tuple) else (r.messages, r.response_prefix)
        if b.generated_tokens:  # batched prompts are prefilled in full
            assert b.prompt_tokens == len(lm._tokens(messages, prefix))
        else:
            assert b.prompt_tokens == 0


def test_likelihood_reward_through_a_transformers_model():
    from rewardspec.rewards import make_reward

    directory = checkpoint("causal-qwen2")[0]
    reward = make_reward(f"likelihood:transformers:{directory}?device=cpu&dtype=float32",
                         load_model)
    score = reward.score("What is 12 * 7 - 5?", ["12 * 7 = 84.\n\n"], "84 - 5 = 79.")
    assert 0 < score.value < 1 and score.scored_tokens > 0 and score.prompt_tokens > 0


def test_context_window_is_checked(lm):
    from rewardspec.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="context window"):
        lm.generate_step(MESSAGES, "", greedy(lm.n_ctx))


@pytest.mark.models
def test_real_gguf_through_transformers_stops_at_a_step():
    """SmolLM2-135M-Instruct (GGUF Q4_1, dequantized to fp32 by transformers)."""
    pytest.importorskip("gguf")
    model = load_model("transformers:tiny?device=cpu&dtype=float32")
    assert model.name == "smollm2-135m" and 100e6 < model.params < 200e6
    messages = [{"role": "user", "content": "Solve 12 * 7 - 5 step by step."}]
    prefix = "Step 1: 12 * 7 = 84."
    g = model.generate_step(messages, prefix, SamplingParams(max_tokens=40))
    assert g.finish_reason == "step", g
    assert g.text.endswith("\n\n") and find_step_end(g.text) == len(g.text)
    assert g.text.strip() and g.generated_tokens == len(g.token_logprobs) <= 40
    assert g.prompt_tokens == len(model._tokens(messages, prefix))
    # the next step reuses the cache: only the re-tokenized tail of the prefix runs
    nxt = model.generate_step(messages, prefix + g.text, SamplingParams(max_tokens=8))
    assert 1 <= nxt.prompt_tokens <= g.generated_tokens + 1
    assert nxt.generated_tokens <= 8
