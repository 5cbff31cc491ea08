"""The remote backend against llama.cpp's own C++ ``llama-server`` on loopback (the server most
local users run), built from the llama.cpp our llama-cpp-python vendors, on the embedded
SmolLM2-135M GGUF. What it does differently from llama-cpp-python's server is tested here:
slots and their prompt cache, many chats at once, ``echo`` refused, its sampling defaults."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from rewardspec.build import Models, build_solver, solver_settings
from rewardspec.endpoints import RemoteEngineError
from rewardspec.methods.base import DecodeConfig
from rewardspec.models.base import SamplingParams
from rewardspec.models.remote import RemoteModel, RemoteSpec
from rewardspec.registry import resolve_gguf

from llama_servers import MARKS, llama_server
from processes import free_port

pytestmark = MARKS
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k.jsonl"
QUESTIONS = ["Tom has 3 apples and buys 4 more. How many apples does he have?",
             "A pen costs $2. How much do 5 pens cost?"]
GGUF = resolve_gguf("tiny")[0]


@pytest.fixture(scope="module")
def url():
    with llama_server(GGUF, "tiny") as (base, _):
        yield base


def remote(url: str, options: str = "") -> RemoteModel:
    model = RemoteModel(RemoteSpec.parse(f"tiny@{url}{options}"))
    model.check()  # learns that the server is llama-server (its model list says owned_by "llamacpp")
    return model


def test_the_model_list_names_llama_server(url):
    assert all(e.llama_server for e in remote(url).pool.endpoints)


@pytest.mark.parametrize("reward", ["likelihood:tiny", "likelihood"])
def test_rsd_over_llama_server_writes_what_in_process_writes(url, reward):
    """Greedy, same seed: the same steps, sources and answer. ``likelihood`` is the self-likelihood
    reward, read from the log-probabilities llama-server streams with each token."""
    decode = DecodeConfig(max_tokens=96, max_steps=6)
    traces = {}
    asks = "?logprobs=true" if reward == "likelihood" else ""  # the draft streams each token's log-probability
    for where, spec in (("local", "tiny"), ("http", f"openai:tiny@{url}{asks}")):
        settings = solver_settings(draft=spec, target=spec, reward=reward, delta=0.75)
        solver = build_solver("rsd", settings, decode, Models(settings))
        traces[where] = [solver.solve(q) for q in QUESTIONS]
    for local, http in zip(traces["local"], traces["http"]):
        assert [(s.text, s.source) for s in http.steps] == [(s.text, s.source) for s in local.steps]
        assert http.text == local.text and http.finish_reason == local.finish_reason
        assert [s.generated_tokens for s in http.steps] == [s.generated_tokens for s in local.steps]
    sources = {s.source for t in traces["http"] for s in t.steps}
    assert sources == {"draft", "target"}, "δ should make RSD both accept and reject here"


def test_streamed_log_probabilities_match_in_process(url):
    from rewardspec.models import load_model

    chat = [{"role": "user", "content": QUESTIONS[0]}]
    greedy = SamplingParams(max_tokens=40)
    http = remote(url, "?logprobs=true").generate_step(chat, "", greedy)
    local = load_model("tiny").generate_step(chat, "", greedy)
    assert http.text == local.text and len(http.token_logprobs) == len(local.token_logprobs) > 3
    assert max(abs(a - b) for a, b in zip(http.token_logprobs, local.token_logprobs)) < 0.05


def test_a_chats_next_step_reads_only_what_is_new_from_its_slot(url):
    """The server's own count (``timings.cache_n``/``prompt_n``, asked for per token) is used, so
    a step's prompt cost is what the server read, not what the client assumed."""
    model = remote(url)
    chat = [{"role": "user", "content": QUESTIONS[1]}]
    greedy = SamplingParams(max_tokens=40)
    other = model.generate_step([{"role": "user", "content": "Say hello."}], "", greedy)  # another chat first
    first = model.generate_step(chat, "", greedy)
    # the system prompt's tokens were in the slot's cache already; the question's were not
    assert 1 < first.prompt_tokens < model.renderer.count(model.renderer.prompt(chat)) - 5, (other, first)
    second = model.generate_step(chat, first.text, greedy)
    full = model.renderer.count(model.renderer.prompt(chat) + first.text)
    assert 1 <= second.prompt_tokens <= model.renderer.count(first.text) + 2 < full

    raw = httpx.post(f"{url}/completions", timeout=60, json={
        "model": "tiny", "prompt": model.renderer.prompt(chat) + first.text, "max_tokens": 2, "temperature": 0,
        "timings_per_token": True}).json()
    assert raw["usage"]["prompt_tokens_details"]["cached_tokens"] >= full - 2  # the server says so too


def test_sixteen_chats_over_four_slots_none_truncated_none_mixed_up():
    """16 chats in flight over 4 slots, each writing 3 steps. Every step is whole (it ends on the
    separator, on end-of-sequence, or at its full budget), and every chat's text is closer to the
    one it writes alone than to any other chat's, so no stream was cut or crossed with another's.
    Not all are identical: batching several slots in one pass moves near-ties (as vLLM's does)."""
    questions = [f"What is {i} times {i + 2}? Explain in two short paragraphs." for i in range(16)]
    budget = 24
    greedy = SamplingParams(max_tokens=budget)

    def write(model: RemoteModel, question: str) -> list[tuple[str, str, int]]:
        chat, text, steps = [{"role": "user", "content": question}], "", []
        for _ in range(3):
            step = model.generate_step(chat, text, greedy)
            steps.append((step.text, step.finish_reason, step.generated_tokens))
            text += step.text
            if step.finish_reason != "step":
                break
        return steps

    with llama_server(GGUF, "tiny", slots=4) as (base, _):
        model = remote(base)
        alone = [write(model, q) for q in questions]
        with ThreadPoolExecutor(16) as pool:
            together = list(pool.map(lambda q: write(model, q), questions))
    for steps in together:
        for text, finish, tokens in steps:
            assert {"step": text.endswith("\n\n"), "length": tokens == budget, "eos": 0 < tokens <= budget}[finish]
    texts = ["".join(t for t, _, _ in steps) for steps in alone]
    for i, steps in enumerate(together):
        mine = "".join(t for t, _, _ in steps)
        shared = [len(os.path.commonprefix([mine, other])) for other in texts]
        assert shared[i] > max(shared[:i] + shared[i + 1:]), (i, mine, texts[i])
    assert sum(a == b for a, b in zip(together, alone)) >= len(questions) // 2


def test_echo_gives_nothing_to_check_so_rejected_steps_are_written_from_scratch(url, caplog):
    """llama-server 0.3.36's ``/v1/completions`` ignores ``echo``: its reply holds the generated
    token's log-probability only. Rewrite reuse reads that as unusable once (one request, nothing
    kept), says so once and writes every later step without asking; scoring another model's step
    by its prompt log-probabilities is one clear error."""
    model = remote(url)
    chat = [{"role": "user", "content": QUESTIONS[0]}]
    plain = model.generate_step(chat, "", SamplingParams(max_tokens=48))
    with caplog.at_level(logging.WARNING, logger="rewardspec.models.remote"):
        checked = [model.generate_step(chat, "", SamplingParams(max_tokens=48, proposal=plain.text))
                   for _ in range(2)]
    assert all(c.text == plain.text and c.generated_tokens == plain.generated_tokens for c in checked)
    assert checked[0].lookahead.rewrite_accepted == 0 and checked[1].lookahead is None
    warnings = [r.getMessage() for r in caplog.records if "written from scratch" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert all(e.failures == 0 and e.down_until == 0 for e in model.pool.endpoints)
    with pytest.raises(RemoteEngineError, match="llama-server never returns them"):
        model.score_continuation(chat, "", "3 + 4 = 7.")


def test_its_sampling_defaults_are_neutralised(url):
    """llama-server's own defaults (top_k 40, min_p 0.05, top_p 0.95) would change a sampled step;
    the client sends every value, so top_k=1 at temperature 1 is greedy whatever the seed, and
    without it two seeds write different steps."""
    model = remote(url)
    chat = [{"role": "user", "content": "Write a short poem about the sea."}]
    pinned = {model.generate_step(chat, "", SamplingParams(max_tokens=16, temperature=1.0, top_k=1, seed=s)).text
              for s in (1, 2)}
    free = {model.generate_step(chat, "", SamplingParams(max_tokens=16, temperature=1.0, seed=s)).text
            for s in (1, 2, 3)}
    assert len(pinned) == 1 and len(free) > 1


@pytest.mark.skipif(not DATA.exists(), reason="needs ../shared/data/gsm8k.jsonl")
def test_a_killed_server_is_one_clear_error_and_resume_finishes_every_question_once(tmp_path):
    dataset = tmp_path / "gsm8k.jsonl"
    with open(DATA, encoding="utf-8") as src:
        dataset.write_text("".join(next(src) for _ in range(8)), encoding="utf-8")
    port = free_port()
    base = f"http://127.0.0.1:{port}/v1"
    command = [sys.executable, "-m", "rewardspec", "eval", "--dataset", str(dataset), "--methods", "target",
               "--target", f"openai:tiny@{base}?attempts=3", "--max-tokens", "40", "--concurrency", "4",
               "--output", str(tmp_path / "run")]
    samples = tmp_path / "run" / "samples-target.jsonl"
    with llama_server(GGUF, "tiny", slots=4, port=port) as (_, proc):
        run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        while run.poll() is None and (not samples.exists() or len(samples.read_text().splitlines()) < 2):
            time.sleep(0.05)
        proc.kill()
        _, err = run.communicate(timeout=300)
    kept = [json.loads(line)["id"] for line in samples.read_text().splitlines()]
    assert run.returncode == 2, err
    assert "Traceback" not in err and base in err and "--resume" in err
    assert 2 <= len(kept) < 8 and len(set(kept)) == len(kept)
    with llama_server(GGUF, "tiny", slots=4, port=port):
        done = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    ids = [json.loads(line)["id"] for line in samples.read_text().splitlines()]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 8
    assert ids[: len(kept)] == kept  # nothing written before was lost or rewritten
