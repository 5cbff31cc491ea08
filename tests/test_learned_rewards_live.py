"""The learned and ratio rewards on real GGUF models: hidden states, train-reward, solve."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from rewardspec.methods.rsd import RSD, DecodeConfig
from rewardspec.models import load_model
from rewardspec.models.base import SamplingParams
from rewardspec.prompts import build_messages
from rewardspec.rewards import make_reward

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def tiny():
    return load_model("smollm2-135m")


def test_hidden_state_after_the_models_own_step_costs_one_token(tiny):
    messages = build_messages("What is 2 + 3?")
    tiny.forget_cache()  # the last check compares two greedy runs, so both start from an empty cache
    gen = tiny.generate_step(messages, "", SamplingParams(max_tokens=24))
    hidden, processed = tiny.hidden_state(messages, gen.text)
    assert processed <= 2
    assert hidden.shape == (tiny.llm.n_embd(),) and np.isfinite(hidden).all()
    again, _ = tiny.hidden_state(messages, gen.text)
    assert np.array_equal(hidden, again)
    other, cost = tiny.hidden_state(messages, gen.text + " And 7 more.")
    assert cost >= 3 and not np.allclose(other, hidden)
    # Generation is unchanged by reading hidden states (embeddings are switched off again).
    tiny.forget_cache()
    assert tiny.generate_step(messages, "", SamplingParams(max_tokens=24)).text == gen.text


def test_ratio_of_a_model_against_itself_is_one(tiny):
    """The same model as draft and target: P_M / P_m = 1 up to batch-vs-token numerics."""
    reward = make_reward("ratio:smollm2-135m", load=load_model)
    solver = RSD(tiny, tiny, reward, delta=0.9, config=DecodeConfig(max_tokens=40, max_steps=3))
    trace = solver.solve("What is 2 + 3?")
    assert trace.usage["reward"].calls >= 1 and trace.usage["reward"].scored_tokens > 0
    accepted = [s for s in trace.steps if s.source == "draft"]
    assert accepted and all(s.reward == pytest.approx(1.0, abs=0.02) for s in accepted)


def toy_data(tmp_path):
    """Three questions, each once with its right gold and once with a wrong one."""
    rows = [("What is 2 + 3?", "5"), ("What is 2 + 3?", "11"), ("What is 10 - 4?", "6"),
            ("What is 10 - 4?", "13"), ("What is 3 * 3?", "9"), ("What is 3 * 3?", "2")]
    data = tmp_path / "toy.jsonl"
    data.write_text("".join(json.dumps({"question": q, "answer": a, "idx": i}) + "\n"
                            for i, (q, a) in enumerate(rows)))
    return data


def test_train_reward_then_solve_with_the_head(tmp_path):
    """Golds made wrong on purpose give both labels; the head then scores a real solve."""
    data = toy_data(tmp_path)
    head = tmp_path / "head.json"
    proc = subprocess.run(
        [sys.executable, "-m", "rewardspec", "train-reward", "--dataset", str(data), "--output", str(head),
         "--draft", "qwen2.5-coder-0.5b", "--max-tokens", "64", "--work", str(tmp_path / "work")],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "CV AUROC" in proc.stderr
    saved = json.loads(head.read_text())
    assert saved["read"] == "draft" and saved["model"] == "qwen2.5-coder-0.5b"
    assert saved["provenance"]["problems"] == [str(i) for i in range(6)]
    assert saved["provenance"]["metrics"]["solutions"] == 6
    solved = subprocess.run(
        [sys.executable, "-m", "rewardspec", "solve", "What is 2 + 3?", "--json", "--draft", "qwen2.5-coder-0.5b",
         "--target", "qwen2.5-coder-0.5b", "--reward", f"head:{head}", "--max-tokens", "40", "--delta", "0.5"],
        capture_output=True, text=True, timeout=600)
    assert solved.returncode == 0, solved.stderr
    out = json.loads(solved.stdout)
    assert out["usage"]["reward"]["calls"] >= 1
    assert all(0.0 <= s["reward"] <= 1.0 for s in out["steps"] if s["reward"] is not None)
    mismatch = subprocess.run(
        [sys.executable, "-m", "rewardspec", "solve", "What is 2 + 3?", "--draft", "smollm2-135m",
         "--reward", f"head:{head}", "--max-tokens", "8"], capture_output=True, text=True, timeout=600)
    assert mismatch.returncode == 2 and "trained on 'qwen2.5-coder-0.5b'" in mismatch.stderr
    assert "Traceback" not in mismatch.stderr


def test_train_reward_on_rollout_labels_resumes_from_its_labels(tmp_path):
    """The target's rollouts label each step; a second run reuses them instead of rolling out again."""
    data = toy_data(tmp_path)
    command = [sys.executable, "-m", "rewardspec", "train-reward", "--dataset", str(data),
               "--output", str(tmp_path / "head.json"), "--labels", "rollout", "--draft", "qwen2.5-coder-0.5b",
               "--target", "qwen2.5-coder-0.5b", "--max-tokens", "48", "--work", str(tmp_path / "work")]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert "harmless vs. harmful" in proc.stderr
    labels_file = tmp_path / "work" / "rollout-labels.jsonl"
    lines = [json.loads(line) for line in labels_file.read_text().splitlines()]
    assert sorted(row["id"] for row in lines) == [str(i) for i in range(6)]
    # A wrong gold makes every rollout of that problem fail.
    wrong = [row for row in lines if row["id"] in ("1", "3", "5")]
    assert all(not step["good"] and not step["harmful"] for row in wrong for step in row["steps"])
    saved = json.loads((tmp_path / "head.json").read_text())
    assert saved["provenance"]["labels"] == "rollout" and saved["provenance"]["rollouts_by"] == "qwen2.5-coder-0.5b"
    before = labels_file.read_text()
    again = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr
    assert labels_file.read_text() == before  # nothing rolled out twice
    other = subprocess.run([*command[:-4], "--max-tokens", "40", "--work", str(tmp_path / "work")],
                           capture_output=True, text=True, timeout=900)
    assert other.returncode != 0 and "Traceback" not in other.stderr


def test_train_a_question_head_then_route_questions_with_it(tmp_path):
    """One row per question, read before solving; the route then sends a question to one model."""
    data = toy_data(tmp_path)
    head = tmp_path / "question.json"
    proc = subprocess.run(
        [sys.executable, "-m", "rewardspec", "train-reward", "--dataset", str(data), "--output", str(head),
         "--labels", "question", "--draft", "qwen2.5-coder-0.5b", "--max-tokens", "48",
         "--work", str(tmp_path / "work")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    said = " ".join(proc.stderr.split())
    assert "--route 'head:" in said and "6 questions" in said
    saved = json.loads(head.read_text())
    assert saved["provenance"]["labels"] == "question"
    assert saved["provenance"]["metrics"]["solutions"] == 6 and saved["provenance"]["metrics"]["steps"] == 6

    def solve(route: str) -> dict:
        done = subprocess.run(
            [sys.executable, "-m", "rewardspec", "solve", "What is 2 + 3?", "--json", "--draft", "qwen2.5-coder-0.5b",
             "--target", "smollm2-135m", "--route", route, "--max-tokens", "24"],
            capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    hard = solve(f"head:{head}?target_below=1")
    assert hard["route"]["route"] == "target" and 0.0 <= hard["route"]["value"] <= 1.0
    assert {s["source"] for s in hard["steps"]} == {"target"} and hard["usage"]["draft"]["generated_tokens"] == 0
    assert hard["usage"]["draft"]["prompt_tokens"] > 10  # the read: the draft's prefill of the prompt
    easy = solve(f"head:{head}?draft_above=0")
    assert easy["route"]["route"] == "draft" and easy["route"]["value"] == hard["route"]["value"]
    assert {s["source"] for s in easy["steps"]} == {"draft"} and easy["usage"]["reward"]["calls"] == 0
    refused = subprocess.run(
        [sys.executable, "-m", "rewardspec", "solve", "What is 2 + 3?", "--reward", f"head:{head}",
         "--max-tokens", "8"], capture_output=True, text=True, timeout=600)
    assert refused.returncode == 2 and "question head" in refused.stderr and "Traceback" not in refused.stderr
