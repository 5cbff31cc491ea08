"""Skywork-o1-Open-PRM adapter against a tiny checkpoint in their layout."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from prm_fixtures import QUESTION, STEPS, auto_tokenizer, checkpoint, reward_spec  # noqa: E402

from rewardspec.rewards import make_reward  # noqa: E402


def prepare_input(problem, response, tokenizer, step_token):
    """skywork-o1-prm-inference's io_utils.prepare_input (current version)."""
    prompt_ids = tokenizer.encode(tokenizer.bos_token + problem + "\n")
    response_ids, reward_flags = [], [0] * len(prompt_ids)
    step_token_id = tokenizer.encode(step_token)[-1]
    for step in response.split(step_token):
        if step == "":
            break
        step_ids = tokenizer.encode(step) + [step_token_id]
        flag = [0] * len(step_ids)
        flag[-1] = 1
        response_ids.extend(step_ids)
        reward_flags.extend(flag)
    return prompt_ids + response_ids, reward_flags


def reference_line_rewards(response: str) -> list[float]:
    """Their PRM_MODEL: the causal LM's last hidden state -> v_head -> sigmoid, at the flags."""
    from transformers import AutoModelForCausalLM

    directory, _, v_head, _ = checkpoint("skywork-prm")
    tok = auto_tokenizer("skywork-prm")
    ids, flags = prepare_input(QUESTION, response, tok, step_token="\n")
    lm = AutoModelForCausalLM.from_pretrained(directory).eval()
    with torch.no_grad():
        hidden = lm(torch.tensor([ids]), output_hidden_states=True).hidden_states[-1]
        value = torch.sigmoid(v_head(hidden.float()).squeeze(-1))[0]
    return [value[i].item() for i, f in enumerate(flags) if f == 1]


def test_matches_their_inference_code():
    lines = [line for s in STEPS for line in s.strip().split("\n")]
    expected = reference_line_rewards("\n".join(lines))
    assert len(expected) == 4  # step 2 has two lines
    last_line_of_step = [0, 2, 3]
    reward = make_reward(reward_spec("skywork-prm"))
    for i, step in enumerate(STEPS):
        got = reward.score(QUESTION, STEPS[:i], step).value
        assert got == pytest.approx(expected[last_line_of_step[i]], abs=1e-5)
    # the reward read is the step's last tag, not its first line's
    assert reward.score(QUESTION, STEPS[:1], STEPS[1]).value != pytest.approx(expected[1], abs=1e-4)


def test_input_layout_and_activation():
    reward = make_reward(reward_spec("skywork-prm"))
    tok = reward.tokenizer
    ids, read = reward.encode(QUESTION, STEPS[:2])
    assert ids[0] == tok.bos_token_id
    assert ids[read] == reward.step_token_id == tok.encode("\n")[-1]
    assert read == len(ids) - 1
    assert sum(1 for t in ids if t == reward.step_token_id) >= 3  # question line + 3 step lines
    # sigmoid of the value head at the read position
    with torch.no_grad():
        h = reward.model(input_ids=torch.tensor([ids])).last_hidden_state[0, read]
        raw = reward.v_head(h).item()
    value = reward.score(QUESTION, STEPS[:1], STEPS[1]).value
    assert value == pytest.approx(1 / (1 + torch.exp(torch.tensor(-raw)).item()), abs=1e-6)
    # Whatever the random head gives, make its raw output exactly 2.0 there: a sigmoid reads
    # 0.8808, where the raw value (2.0) or a clip to [0, 1] (1.0) would not.
    shift = 2.0 - raw
    with torch.no_grad():
        reward.v_head.bias += shift
    try:
        assert reward.score(QUESTION, STEPS[:1], STEPS[1]).value == pytest.approx(0.880797, abs=1e-5)
    finally:
        with torch.no_grad():
            reward.v_head.bias -= shift


def test_value_head_keys_are_read_from_the_index():
    """The head sits in the last shard of an indexed checkpoint, as in theirs."""
    import json

    directory, _, v_head, _ = checkpoint("skywork-prm")
    weight_map = json.loads((directory / "model.safetensors.index.json").read_text())["weight_map"]
    assert {"v_head.summary.weight", "v_head.summary.bias"} <= set(weight_map)
    reward = make_reward(reward_spec("skywork-prm"))
    assert torch.equal(reward.v_head.weight, v_head.weight)
    assert torch.equal(reward.v_head.bias, v_head.bias)


def test_missing_value_head_is_an_error():
    from rewardspec.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="v_head"):
        make_reward(reward_spec("causal-qwen2", family="skywork-prm"))
