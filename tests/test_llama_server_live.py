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

import httpx
import pytest

from rewardspec.endpoints import RemoteEngineError
from rewardspec.models.base import SamplingParams
from rewardspec.models.remote import RemoteModel, RemoteSpec
from rewardspec.registry import resolve_gguf

from llama_servers import MARKS, llama_server
from processes import free_port
from remote_rsd import QUESTIONS, assert_rsd_over_http_writes_what_in_process_writes

pytestmark = MARKS
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
    asks = "?logprobs=true" if reward == "likelihood" else ""  # the draft streams each token's log-probability
    assert_rsd_over_http_writes_what_in_process_writes(f"openai:tiny@{url}{asks}", reward)


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


def test_sixteen_chats_over_four_slots_none_truncated_none_mixed_up_each_reading_only_what_is_new():
    """16 chats in flight over 4 slots, each writing 3 steps. Every step is whole (it ends on the
    separator, on end-of-sequence, or at its full budget), and every chat's text is closer to the
    one it writes alone than to any other chat's, so no stream was cut or crossed with another's
    (not all are identical: batching several slots in one pass moves near-ties, as on vLLM). A
    chat's later steps read, by the server's count, only what is new, but for the odd one."""
    questions = [f"What is {i} times {i + 2}? Explain in two short paragraphs." for i in range(16)]
    budget = 24
    greedy = SamplingParams(max_tokens=budget)

    def write(model: RemoteModel, question: str) -> list:
        chat, text, steps = [{"role": "user", "content": question}], "", []
        for _ in range(3):
            step = model.generate_step(chat, text, greedy)
            steps.append(step)
            text += step.text
            if step.finish_reason not in ("step", "length"):  # a step cut at its budget goes on
                break
        return steps

    with llama_server(GGUF, "tiny", slots=4) as (base, _):
        model = remote(base)
        alone = ["".join(s.text for s in write(model, q)) for q in questions]
        with ThreadPoolExecutor(16) as pool:
            together = list(pool.map(lambda q: write(model, q), questions))
    for steps in together:
        for step in steps:
            assert 0 < step.generated_tokens <= budget, step
            if step.finish_reason == "step":
                assert step.text.endswith("\n\n"), step
            elif step.finish_reason == "length":
                assert step.generated_tokens == budget, step
    for i, steps in enumerate(together):
        mine = "".join(s.text for s in steps)
        shared = [len(os.path.commonprefix([mine, other])) for other in alone]
        assert shared[i] > max(shared[:i] + shared[i + 1:]), (i, mine, alone[i])
    later = [s.prompt_tokens for steps in together for s in steps[1:]]
    # the previous step's tokens were in a cache already, mostly: a chat whose slot went to another
    # chat may re-read what followed the shared system prompt (1 of 21 steps here, 40 tokens)
    reread = [n for n in later if n > 2]
    assert later and sorted(later)[len(later) // 2] == 1 and len(reread) <= len(later) // 8, later


def test_echo_gives_nothing_to_check_so_rejected_steps_are_written_from_scratch(url, caplog):
    """This llama-server's ``/v1/completions`` ignores ``echo``: its reply holds the generated
    token's log-probability only. Known as llama-server (its model list), the client asks no echo
    and says so once; a client that did not check reads the reply as unusable once (one request,
    nothing kept). Either way the steps are the same; scoring another model's step by its prompt
    log-probabilities is one clear error."""
    unchecked = RemoteModel(RemoteSpec.parse(f"tiny@{url}"))  # no check(): it does not know the server
    chat = [{"role": "user", "content": QUESTIONS[0]}]
    plain = unchecked.generate_step(chat, "", SamplingParams(max_tokens=48))
    found = [unchecked.generate_step(chat, "", SamplingParams(max_tokens=48, proposal=plain.text)) for _ in range(2)]
    assert [f.text for f in found] == [plain.text] * 2
    assert found[0].lookahead.rewrite_accepted == 0 and found[1].lookahead is None
    caplog.clear()
    model = remote(url)
    plain = model.generate_step(chat, "", SamplingParams(max_tokens=48))
    with caplog.at_level(logging.WARNING, logger="rewardspec.models.remote"):
        checked = [model.generate_step(chat, "", SamplingParams(max_tokens=48, proposal=plain.text))
                   for _ in range(2)]
    assert all(c.text == plain.text and c.generated_tokens == plain.generated_tokens for c in checked)
    assert checked[0].lookahead is None and checked[1].lookahead is None
    warnings = [r.getMessage() for r in caplog.records if "written from scratch" in r.getMessage()]
    assert len(warnings) == 1 and "llama-server" in warnings[0], warnings
    assert all(e.failures == 0 and e.down_until == 0 for e in model.pool.endpoints)
    with pytest.raises(RemoteEngineError, match="llama-server never returns them"):
        model.score_continuation(chat, "", "3 + 4 = 7.")


def test_its_sampling_defaults_are_neutralised(url):
    """llama-server's own defaults (top_k 40, top_p 0.95, min_p 0.05) would change a sampled step;
    the client sends every value, and the server's ``/slots`` shows what the request ran with."""
    model = remote(url)
    chat = [{"role": "user", "content": "Write a short poem about the sea."}]
    model.generate_step(chat, "", SamplingParams(max_tokens=8, temperature=1.0, seed=1))
    slots = httpx.get(url.removesuffix("/v1") + "/slots", timeout=10).json()
    ran = max((s for s in slots if "params" in s), key=lambda s: s["id_task"])["params"]
    assert (ran["temperature"], ran["top_k"], ran["top_p"], ran["min_p"], ran["repeat_penalty"]) == (1.0, 0, 1.0, 0.0, 1.0)
    pinned = {model.generate_step(chat, "", SamplingParams(max_tokens=16, temperature=1.0, top_k=1, seed=s)).text
              for s in (1, 2)}
    free = {model.generate_step(chat, "", SamplingParams(max_tokens=16, temperature=1.0, seed=s)).text
            for s in (1, 2, 3)}
    assert len(pinned) == 1 and len(free) > 1


def test_a_killed_server_is_one_clear_error_and_resume_finishes_every_question_once(tmp_path):
    dataset = tmp_path / "gsm8k.jsonl"
    dataset.write_text("".join(json.dumps({"question": f"Sam has {i} pens and buys {i + 3} more. How many pens?",
                                           "answer": f"#### {2 * i + 3}"}) + "\n" for i in range(8)))
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
