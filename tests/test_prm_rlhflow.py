"""RLHFlow Llama3.1-8B-PRM adapter against a tiny Llama checkpoint with a Llama 3 template."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from prm_fixtures import QUESTION, STEPS, auto_tokenizer, checkpoint, reward_spec  # noqa: E402

from rewardspec.rewards import make_reward  # noqa: E402


def reference_scores() -> list[float]:
    """math-rm/prm_evaluate.py: one conversation per prefix, logits at -3 for [+, -]."""
    from transformers import AutoModelForCausalLM

    directory = checkpoint("rlhflow")[0]
    tokenizer = auto_tokenizer("rlhflow")
    plus_tag_id = tokenizer.encode("+")[-1]
    minus_tag_id = tokenizer.encode("-")[-1]
    model = AutoModelForCausalLM.from_pretrained(directory).eval()
    ans_list = [s.strip() for s in STEPS]
    conversation, scores = [], []
    for k in range(len(ans_list)):
        text = QUESTION + " " + ans_list[0] if k == 0 else ans_list[k]
        conversation.append({"content": text, "role": "user"})
        conversation.append({"content": "+", "role": "assistant"})
        rendered = tokenizer.apply_chat_template(conversation, tokenize=False)
        input_ids = torch.tensor([tokenizer.encode(rendered, add_special_tokens=False)])
        assert input_ids[0, -2] == plus_tag_id  # "+" then <|eot_id|>: -3 predicts the "+"
        with torch.no_grad():
            logits = model(input_ids).logits[:, -3, [plus_tag_id, minus_tag_id]]
        scores.append(logits.softmax(dim=-1)[:, 0].item())
    return scores


def test_matches_the_reference_code():
    expected = reference_scores()
    reward = make_reward(reward_spec("rlhflow"))
    for i, step in enumerate(STEPS):
        assert reward.score(QUESTION, STEPS[:i], step).value == pytest.approx(expected[i], abs=1e-5)


def test_conversation_and_read_position():
    reward = make_reward(reward_spec("rlhflow"))
    conv = reward.conversation(QUESTION, STEPS[:2])
    assert [m["role"] for m in conv] == ["user", "assistant"] * 2
    assert conv[0]["content"] == f"{QUESTION} {STEPS[0].strip()}"
    assert conv[2]["content"] == STEPS[1].strip() and conv[1]["content"] == "+"
    ids, read = reward.encode(QUESTION, STEPS[:2])
    assert ids[read + 1] == reward.good_id  # the position that predicts the last "+"
    assert ids[0] == reward.tokenizer.bos_token_id and ids.count(reward.tokenizer.bos_token_id) == 1
