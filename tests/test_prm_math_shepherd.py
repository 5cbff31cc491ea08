"""Math-Shepherd adapter against a tiny Mistral checkpoint with a Llama-2 style tokenizer."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from prm_fixtures import QUESTION, STEPS, auto_tokenizer, checkpoint, reward_spec  # noqa: E402

from rewardspec.rewards import make_reward  # noqa: E402

# The response as the model card writes it: each step ends with " ки".
OUTPUT = (
    "Step 1: Janet has 16 eggs. ки\n\n"
    "Step 2: She eats 3, so 16 - 3 = 13 eggs are left.\nThat is the rest. ки\n\n"
    "The answer is \\boxed{13}. ки"
)


def model_card_scores() -> tuple[list[float], list[float]]:
    from transformers import AutoModelForCausalLM

    directory = checkpoint("math-shepherd")[0]
    tokenizer = auto_tokenizer("math-shepherd")
    candidate_tokens = tokenizer.encode("+ -")[1:]
    step_tag_id = tokenizer.encode("ки")[-1]
    assert len(candidate_tokens) == 2
    model = AutoModelForCausalLM.from_pretrained(directory).eval()
    input_id = torch.tensor([tokenizer.encode(f"{QUESTION} {OUTPUT}")])
    with torch.no_grad():
        logits = model(input_id).logits[:, :, candidate_tokens]
    scores = logits.softmax(dim=-1)[:, :, 0]
    # the same softmax one position earlier: what a wrong position would give
    before = scores[:, :-1][(input_id == step_tag_id)[:, 1:]]
    return scores[input_id == step_tag_id].tolist(), before.tolist()


def test_matches_the_model_card_computation():
    expected, shifted = model_card_scores()
    assert len(expected) == len(STEPS)  # one tag read per step
    reward = make_reward(reward_spec("math-shepherd"))
    for i, step in enumerate(STEPS):
        got = reward.score(QUESTION, STEPS[:i], step).value
        assert got == pytest.approx(expected[i], abs=1e-5)
        assert got != pytest.approx(shifted[i], abs=1e-4)


def test_input_format_and_tokens():
    reward = make_reward(reward_spec("math-shepherd"))
    assert reward.text(QUESTION, STEPS) == f"{QUESTION} {OUTPUT}"
    tok = reward.tokenizer
    assert [tok.convert_ids_to_tokens(t) for t in reward.candidates] == ["▁+", "▁-"]
    ids, read = reward.encode(QUESTION, STEPS[:2])
    assert ids[0] == tok.bos_token_id
    assert ids[read] == reward.step_tag_id and read == len(ids) - 1
    assert ids.count(reward.step_tag_id) == 2
