"""RSD end to end on the transformers backend with a real-layout PRM (tiny checkpoints)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from prm_fixtures import checkpoint, reward_spec  # noqa: E402

from rewardspec.methods.rsd import RSD, DecodeConfig  # noqa: E402
from rewardspec.models import load_model  # noqa: E402
from rewardspec.rewards import make_reward  # noqa: E402


@pytest.mark.parametrize("kind", ["qwen-prm", "orm"])
def test_rsd_runs_with_a_transformers_draft_target_and_prm(kind):
    directory = checkpoint("causal-qwen2")[0]
    model = load_model(f"transformers:{directory}?device=cpu&dtype=float32")
    reward = make_reward(reward_spec(kind))
    # A random model rarely writes "\n\n": cut steps on a space instead.
    config = DecodeConfig(max_tokens=24, max_steps=4, separator=" ")
    question = f"A question no other test asked the {kind} reward: what is 6 * 7?"
    trace = RSD(draft=model, target=model, reward=reward, delta=0.5, config=config).solve(question)
    assert 1 <= len(trace.steps) <= 4
    assert all(s.reward is None or 0 <= s.reward <= 1 for s in trace.steps)
    usage = trace.usage["reward"]
    assert usage.params == reward.params > 0
    assert usage.calls >= 1 and usage.scored_tokens > 0 and usage.prompt_tokens > 0
    assert trace.usage["draft"].generated_tokens > 0
