"""The loop on the real embedded GGUF models (llama.cpp on the CPU).

Small budgets keep these fast: SmolLM2-135M drafts where the test only needs
*a* model, the Qwen2.5-Coder pair where the answer must be right.
"""

from dataclasses import replace
import json
import subprocess
import sys

import pytest

from rewardspec.demo import DEMO_PROBLEM
from rewardspec.grading import is_correct
from rewardspec.methods.base import DecodeConfig
from rewardspec.methods.rsd import RSD
from rewardspec.methods.single import SingleModel
from rewardspec.models import load_model
from rewardspec.models.base import SamplingParams
from rewardspec.prompts import build_messages
from rewardspec.rewards import DEFAULT_REWARD, make_reward

pytestmark = pytest.mark.models

QUESTION = "Tom has 4 bags with 6 marbles each. He gives away 5 marbles. How many marbles does he have left?"
SHORT = DecodeConfig(max_tokens=96, max_steps=12)


@pytest.fixture(scope="module")
def tiny():
    return load_model("smollm2-135m")


@pytest.fixture(scope="module")
def small():
    return load_model("qwen2.5-coder-0.5b")


def test_delta_zero_gives_the_draft_only_text(tiny, small):
    rsd = RSD(draft=tiny, target=small, reward=make_reward("likelihood"), delta=0.0, config=SHORT)
    draft_only = SingleModel(tiny, "draft", SHORT)
    # Both from an empty cache: earlier tests share this process's model and its cache, and
    # a prefix evaluated in another batch split can flip a near-tie greedy token.
    tiny.forget_cache()
    a = rsd.solve(QUESTION)
    tiny.forget_cache()
    b = draft_only.solve(QUESTION)
    assert a.text == b.text and a.text.strip()
    assert a.target_steps == 0 and a.usage["target"].generated_tokens == 0
    assert a.usage["draft"].generated_tokens == b.usage["draft"].generated_tokens


def test_always_reject_gives_the_target_writing_every_step(tiny, small):
    rsd = RSD(draft=tiny, target=small, reward=make_reward("likelihood"), rule="never",
              config=replace(SHORT, rewrite_reuse=True))
    target_only = SingleModel(small, "target", SHORT)
    small.forget_cache()
    a = rsd.solve(QUESTION)
    small.forget_cache()
    b = target_only.solve(QUESTION)
    assert [s.source for s in a.steps] == ["target"] * len(a.steps)
    assert a.text == b.text
    assert a.usage["draft"].discarded_tokens == a.usage["draft"].generated_tokens > 0
    # Every rewrite checked SmolLM2's rejected step, tokenized by the Qwen target (rewrite reuse is
    # on here): a pair without a shared vocabulary reuses steps all the same.
    assert a.usage["target"].lookahead.rewrite_offered > 0


def test_kv_cache_reuses_the_prefix(tiny):
    messages = build_messages("A fresh question nobody asked this model before: what is 17 * 25?")
    first = tiny.generate_step(messages, "", SamplingParams(max_tokens=40))
    second = tiny.generate_step(messages, first.text, SamplingParams(max_tokens=40))
    full_prompt = len(tiny._tokens(messages, first.text))
    assert first.prompt_tokens >= 10
    # Only the tokens of the first step (plus at most a re-tokenised boundary) are new.
    assert second.prompt_tokens <= tiny.count_tokens(first.text) + 2 < full_prompt


def test_scoring_agrees_with_sampling_logprobs(tiny):
    messages = build_messages(QUESTION)
    gen = tiny.generate_step(messages, "", SamplingParams(max_tokens=20))
    scored = tiny.score_continuation(messages, "", gen.text)
    n = min(5, len(scored.token_logprobs))
    # One batched pass against token-by-token decoding: equal up to kernel numerics (0.025 seen on
    # one CPU build); a token off by one position would differ by far more.
    assert scored.token_logprobs[:n] == pytest.approx(gen.token_logprobs[:n], abs=6e-2)


def test_json_usage_adds_up_to_the_steps():
    proc = subprocess.run(
        [sys.executable, "-m", "rewardspec", "solve", QUESTION, "--json", "--draft", "tiny",
         "--target", "qwen2.5-coder-0.5b", "--max-tokens", "120", "--delta", "0.8"],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    steps, usage = out["steps"], out["usage"]
    assert set(usage) == {"draft", "target", "reward"}
    for role in ("draft", "target"):
        kept = sum(s["generated_tokens"] for s in steps if s["source"] == role)
        rejected = sum(s["rejected_draft"]["generated_tokens"] for s in steps
                       if role == "draft" and s["rejected_draft"])
        assert usage[role]["generated_tokens"] == kept + rejected
        assert usage[role]["flops"] == 2 * usage[role]["params"] * usage[role]["generated_tokens"]
    assert usage["draft"]["discarded_tokens"] == sum(
        s["rejected_draft"]["generated_tokens"] for s in steps if s["rejected_draft"])
    assert out["flops"] == pytest.approx(sum(u["flops"] for u in usage.values()))
    assert out["text"] == "".join(s["text"] for s in steps)
    assert out["method"] == "rsd" and out["delta"] == 0.8 and out["wall_seconds"] > 0
    for key in ("answer", "flops_with_prompt"):
        assert key in out


def test_demo_problem_is_solved():
    rsd = RSD(draft=load_model("qwen2.5-coder-0.5b"), target=load_model("qwen2.5-coder-1.5b"),
              reward=make_reward(DEFAULT_REWARD), config=DecodeConfig(max_tokens=512))
    trace = rsd.solve(DEMO_PROBLEM.question)
    assert is_correct(trace.text, DEMO_PROBLEM.answer), trace.text
    assert trace.finish_reason == "eos"


def test_token_level_speculative_decoding_accepts_its_own_proposals(tiny):
    """Draft == target: the engine should keep nearly every proposed token.

    (Exact equality with plain greedy decoding is not asserted: verifying a
    batch of tokens changes float rounding, which flips near-ties; e.g. this
    model scores " break" 27.91 vs " consider" 27.84 at one position.)
    """
    from rewardspec.methods.speculative import SpeculativeDecoding

    path = str(tiny.path)
    sd = SpeculativeDecoding(path, path, tiny.params, tiny.params, num_pred_tokens=4,
                             config=DecodeConfig(max_tokens=48), n_ctx=1024)
    trace = sd.solve(QUESTION)
    t, d = trace.usage["target"], trace.usage["draft"]
    completion = sum(s.generated_tokens for s in trace.steps)
    assert trace.text.strip() and completion > 0
    assert d.generated_tokens > 0 and d.discarded_tokens <= 0.2 * d.generated_tokens
    assert t.generated_tokens >= completion - 1
    # Proposals are verified in batches: far fewer draft calls than output tokens.
    assert d.calls < completion / 2


def test_eval_interrupted_with_ctrl_c_resumes_without_loss_or_duplicates(tmp_path):
    """The real command, the real tiny model: SIGINT after the second sample, then --resume."""
    import signal
    import time

    data = tmp_path / "sums.jsonl"
    data.write_text("".join(json.dumps({"question": f"What is {i} + {i}?", "answer": str(2 * i), "id": i}) + "\n"
                            for i in range(8)))
    out = tmp_path / "run"
    command = [sys.executable, "-m", "rewardspec", "eval", "--dataset", str(data), "--methods", "draft",
               "--draft", "smollm2-135m", "--max-tokens", "48", "--output", str(out)]
    samples = out / "samples-draft.jsonl"
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if samples.exists() and len(samples.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    before = [json.loads(line) for line in samples.read_text().splitlines()]
    assert proc.returncode == 130 and "--resume" in err and "Traceback" not in err
    assert 2 <= len(before) < 8, "the run should have been stopped part-way"

    again = subprocess.run(command, capture_output=True, text=True, timeout=120)  # without --resume: refused
    assert again.returncode == 2 and "--resume" in again.stderr

    done = subprocess.run(command + ["--resume"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    after = [json.loads(line) for line in samples.read_text().splitlines()]
    assert after[: len(before)] == before  # finished samples untouched
    assert sorted(r["id"] for r in after) == [str(i) for i in range(8)]  # nothing lost, nothing twice
    summary = json.loads((out / "summary.json").read_text())
    assert summary["methods"]["draft"]["n"] == 8


def test_a_real_model_that_falls_into_a_loop_is_cut_early(tiny):
    """Greedy SmolLM2 carries on a "2 + 2 + ..." chain; the step ends as degenerate long before
    its budget; the guard only ends the step early, it changes no token."""
    messages = build_messages("Add up the costs.")
    prefix = "\\[ \\text{Total cost} = " + "2 + " * 12
    looping = tiny.generate_step(messages, prefix, SamplingParams(max_tokens=400, repetition_limit=64))
    assert looping.finish_reason == "degenerate"
    assert 64 <= looping.generated_tokens < 200 and "2 + 2 + 2" in looping.text
    unguarded = tiny.generate_step(messages, prefix, SamplingParams(max_tokens=looping.generated_tokens,
                                                                    repetition_limit=0))
    assert unguarded.finish_reason == "length" and unguarded.text == looping.text
