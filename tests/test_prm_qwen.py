"""Qwen2.5-Math-PRM adapter against a tiny checkpoint in the released layout."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch.nn.functional as F  # noqa: E402
from prm_fixtures import QUESTION, STEPS, auto_tokenizer, checkpoint, reward_spec  # noqa: E402

from rewardspec.prompts import QWEN_MATH_COT_SYSTEM  # noqa: E402
from rewardspec.rewards import make_reward  # noqa: E402


def make_step_rewards(logits, token_masks):
    """The model card's post-processing, verbatim in behaviour."""
    probabilities = F.softmax(logits, dim=-1) * token_masks.unsqueeze(-1)
    out = []
    for sample in probabilities:
        out.append(sample[sample != 0].view(-1, 2)[:, 1].tolist())
    return out


def reference(kind: str, steps: list[str]) -> tuple[list[float], list[float], torch.Tensor]:
    """The model card's code on the same weights: P(label 1) at every <extra_0>."""
    _, backbone, head, _ = checkpoint(kind)
    tok = auto_tokenizer(kind)
    messages = [
        {"role": "system", "content": QWEN_MATH_COT_SYSTEM},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "<extra_0>".join(s.strip() for s in steps) + "<extra_0>"},
    ]
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
    input_ids = torch.tensor([tok.encode(text)])
    with torch.no_grad():
        logits = head(backbone(input_ids=input_ids).last_hidden_state)
    mask = input_ids == tok.encode("<extra_0>")[0]
    negatives = F.softmax(logits, dim=-1)[mask][:, 0].tolist()
    return make_step_rewards(logits, mask)[0], negatives, mask


@pytest.mark.parametrize("kind", ["qwen-prm", "qwen-prm-linear"])
def test_matches_the_model_card_computation(kind):
    reward = make_reward(reward_spec(kind, family="qwen-prm"))
    expected, negatives, mask = reference(kind, STEPS)
    assert int(mask.sum()) == len(STEPS)  # one <extra_0> read per step
    for i, step in enumerate(STEPS):
        got = reward.score(QUESTION, STEPS[:i], step).value
        assert got == pytest.approx(expected[i], abs=1e-5)
        # the positive class is label 1, not label 0
        assert abs(got - negatives[i]) > 1e-3 or abs(got - 0.5) < 1e-3


def test_linear_layout_is_transformers_token_classification():
    """score.weight/score.bias is Qwen2ForTokenClassification's head: same numbers."""
    from transformers import Qwen2ForTokenClassification

    directory, _, head, _ = checkpoint("qwen-prm-linear")
    tok = auto_tokenizer("qwen-prm-linear")
    model = Qwen2ForTokenClassification.from_pretrained(directory).eval()
    assert torch.equal(model.score.weight, head.weight)
    reward = make_reward(reward_spec("qwen-prm-linear", family="qwen-prm"))
    text = tok.apply_chat_template(
        reward.messages(QUESTION, STEPS[:2]), tokenize=False, add_generation_prompt=False
    )
    ids = torch.tensor([tok.encode(text)])
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    positions = (ids[0] == reward.step_tag_id).nonzero().flatten()
    p = F.softmax(logits[0, positions[-1]], dim=-1)[1].item()
    assert reward.score(QUESTION, STEPS[:1], STEPS[1]).value == pytest.approx(p, abs=1e-5)


def test_input_format():
    reward = make_reward(reward_spec("qwen-prm"))
    ids, read = reward.encode(QUESTION, STEPS[:2])
    text = reward.tokenizer.decode(ids)
    assert text.count("<extra_0>") == 2
    assert "Step 1: Janet has 16 eggs.<extra_0>Step 2:" in text
    assert QWEN_MATH_COT_SYSTEM in text and QUESTION in text
    assert ids[read] == reward.step_tag_id and read == max(
        i for i, t in enumerate(ids) if t == reward.step_tag_id
    )


def test_wrong_checkpoint_is_refused(tmp_path):
    from rewardspec.errors import InvalidInputError

    directory = checkpoint("rlhflow")[0]  # a causal LM: no score head, no <extra_0>
    with pytest.raises(InvalidInputError):
        make_reward(f"qwen-prm:{directory}?device=cpu")


def test_device_map_loading_gives_the_same_scores():
    """device_map (accelerate's placement, for models spread over GPUs) on CPU here."""
    plain = make_reward(reward_spec("qwen-prm"))
    mapped = make_reward(reward_spec("qwen-prm", device_map="cpu"))
    assert mapped is not plain
    for i, step in enumerate(STEPS):
        a = plain.score("device map? " + QUESTION, STEPS[:i], step).value
        b = mapped.score("device map? " + QUESTION, STEPS[:i], step).value
        assert a == pytest.approx(b, abs=1e-6)
