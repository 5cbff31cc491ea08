"""An ORM (LlamaForSequenceClassification, one label) used as a PRM."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from prm_fixtures import QUESTION, STEPS, auto_tokenizer, checkpoint, reward_spec  # noqa: E402

from rewardspec.errors import InvalidInputError  # noqa: E402
from rewardspec.rewards import make_reward  # noqa: E402
from rewardspec.rewards.prm.orm import squash  # noqa: E402


def model_card_score(steps: list[str]) -> float:
    """Skywork-Reward's usage: chat template tokenized, logits[0][0]."""
    from transformers import AutoModelForSequenceClassification

    directory = checkpoint("orm")[0]
    tok = auto_tokenizer("orm")
    rm = AutoModelForSequenceClassification.from_pretrained(directory).eval()
    conv = [{"role": "user", "content": QUESTION},
            {"role": "assistant", "content": "".join(steps).rstrip()}]
    ids = tok.encode(tok.apply_chat_template(conv, tokenize=False), add_special_tokens=False)
    with torch.no_grad():
        return rm(torch.tensor([ids])).logits[0][0].item()


@pytest.mark.parametrize("center,scale", [(0.0, 1.0), (0.5, 2.0)])
def test_matches_the_model_card_score_through_the_transform(center, scale):
    reward = make_reward(reward_spec("orm", center=center, scale=scale))
    for i, step in enumerate(STEPS):
        raw = model_card_score(STEPS[: i + 1])
        got = reward.score(QUESTION, STEPS[:i], step).value
        assert reward.last_raw_score == pytest.approx(raw, abs=1e-5)
        assert got == pytest.approx(1 / (1 + math.exp(-(raw - center) / scale)), abs=1e-6)


def test_squash():
    assert squash(0.0) == 0.5
    assert squash(3.0, center=3.0, scale=7.0) == 0.5
    assert squash(1e6) == 1.0 and squash(-1e6) == 0.0
    assert squash(2.0, scale=2.0) == pytest.approx(squash(1.0))


def test_bad_options():
    with pytest.raises(InvalidInputError, match="scale"):
        make_reward(reward_spec("orm", scale=0))
    with pytest.raises(InvalidInputError, match="center"):
        make_reward(reward_spec("orm", center="high"))
    with pytest.raises(InvalidInputError, match="labels"):
        make_reward(reward_spec("qwen-prm-linear", family="orm"))
