"""The remote backend against real servers on loopback: llama-cpp-python's own OpenAI server
(``python -m llama_cpp.server``) with the embedded SmolLM2-135M GGUF."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from rewardspec.models.base import SamplingParams
from rewardspec.endpoints import RemoteEngineError
from rewardspec.models.remote import RemoteModel, RemoteSpec
from rewardspec.registry import resolve_gguf

from processes import free_port, start_serve, stop_serve, wait_for_http
from remote_rsd import QUESTIONS, assert_rsd_over_http_writes_what_in_process_writes

pytest.importorskip("sse_starlette", reason="llama-cpp-python's server extra")
pytestmark = pytest.mark.models  # llama_cpp.server and rewardspec serve on the embedded GGUF
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k.jsonl"


def start_server(port: int, *extra: str) -> subprocess.Popen:
    gguf = resolve_gguf("tiny")[0]
    log = tempfile.TemporaryFile()  # the server logs a lot: a pipe nobody reads would block it
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "tiny",
                             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "1",
                             # by default a new request cuts the stream in progress (docs/engines.md)
                             "--interrupt_requests", "false", *extra], stdout=log, stderr=log)

    def output() -> str:
        log.seek(0)
        return log.read().decode(errors="replace")

    # 401: up, and asking for its API key
    wait_for_http(f"http://127.0.0.1:{port}/v1/models", proc, "llama_cpp.server", output, statuses=(200, 401))
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


@contextmanager
def server(*extra: str):
    port = free_port()
    proc = start_server(port, *extra)
    try:
        yield f"http://127.0.0.1:{port}/v1", proc
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def url():
    with server() as (base, _):
        yield base


def test_rsd_over_http_writes_what_in_process_writes(url):
    """Greedy, same seed: the same steps, sources and answer (the reward runs in-process on both).

    δ sits away from every reward seen here. At δ = 0.9 a near-tie flips: the in-process
    reward shares its llama.cpp context with the draft and target, so it scores on top of a
    different cache split and gave 0.9104 where the HTTP run's reward gave 0.8878.
    """
    assert_rsd_over_http_writes_what_in_process_writes(f"openai:tiny@{url}", "likelihood:tiny")


def test_a_step_ends_on_the_separator_and_a_merged_token_is_kept(url):
    model = RemoteModel(RemoteSpec.parse(f"tiny@{url}"))
    chat = [{"role": "user", "content": "List two fruits, one per paragraph."}]
    step = model.generate_step(chat, "", SamplingParams(max_tokens=64))
    assert step.finish_reason in ("step", "eos", "length")
    if step.finish_reason == "step":
        assert step.text.endswith("\n\n") and "\n\n" not in step.text[:-2]
    short = model.generate_step(chat, "", SamplingParams(max_tokens=3))
    assert short.finish_reason == "length" and short.generated_tokens == 3
    assert model.generate_step(chat, "", SamplingParams(max_tokens=0)).generated_tokens == 0


def test_a_rejected_step_offered_to_this_server_is_refused_not_misread(url, caplog):
    """Rewrite reuse reads the server's echoed log-probabilities. llama-cpp-python 0.3.36's are
    one position off, and its echo fails the check: nothing is kept, and the step is the same text."""
    model = RemoteModel(RemoteSpec.parse(f"tiny@{url}"))
    chat = [{"role": "user", "content": QUESTIONS[0]}]
    greedy = SamplingParams(max_tokens=48)
    plain = model.generate_step(chat, "", greedy)
    checked = model.generate_step(chat, "", SamplingParams(max_tokens=48, proposal=plain.text))
    assert checked.text == plain.text and checked.generated_tokens == plain.generated_tokens
    assert checked.lookahead is None or checked.lookahead.rewrite_accepted == 0


def test_an_llm_judge_scores_steps_and_its_tokens_are_counted(url):
    from rewardspec.rewards import make_reward

    question = QUESTIONS[0]
    judge = make_reward(f"judge:tiny@{url}?params=134515008")
    scores = [judge.score(question, [], "3 + 4 = 7, so Tom has 7 apples.\n\n") for _ in range(2)]
    assert 0.0 <= scores[0].value <= 1.0 and scores[0].value == scores[1].value  # greedy: the same twice
    assert scores[0].scored_tokens == 1 and scores[0].prompt_tokens > 40  # the judge's prompt is costed
    longer = judge.score(question, ["First, Tom has 3 apples; then he goes to the shop and buys 4 more.\n\n"],
                         "3 + 4 = 7, so Tom has 7 apples.\n\n")
    assert longer.prompt_tokens > scores[0].prompt_tokens
    written = make_reward(f"judge:tiny@{url}?logprobs=false")
    value = written.score(question, [], "3 + 4 = 7.\n\n").value
    assert value in {d / 9 for d in range(10)}  # the digit it wrote (or 0 for none)


def test_start_up_check_names_each_failure(url):
    RemoteModel(RemoteSpec.parse(f"tiny@{url}")).check()
    with pytest.raises(RemoteEngineError, match="does not serve 'qwen-7b'; it serves: tiny"):
        RemoteModel(RemoteSpec.parse(f"qwen-7b@{url}?template=tiny")).check()
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(RemoteEngineError, match=f"{dead}: unreachable"):
        RemoteModel(RemoteSpec.parse(f"tiny@{dead}")).check()


def test_a_wrong_api_key_is_named():
    with server("--api_key", "secret") as (base, _):
        import os

        os.environ["RS_TEST_KEY"] = "wrong"
        try:
            with pytest.raises(RemoteEngineError, match="API key was refused"):
                RemoteModel(RemoteSpec.parse(f"tiny@{base}?api_key_env=RS_TEST_KEY")).check()
            os.environ["RS_TEST_KEY"] = "secret"
            RemoteModel(RemoteSpec.parse(f"tiny@{base}?api_key_env=RS_TEST_KEY")).check()
        finally:
            del os.environ["RS_TEST_KEY"]


def test_two_servers_share_the_requests_and_one_dying_moves_them(url):
    with server() as (second, proc):
        model = RemoteModel(RemoteSpec.parse(f"tiny@{url},{second}"))
        chats = [[{"role": "user", "content": f"What is {i} + {i}?"}] for i in range(8)]
        sampling = SamplingParams(max_tokens=8)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda chat: model.generate_step(chat, "", sampling), chats))
        served = {e.url: e.served for e in model.pool.endpoints}
        assert all(n >= 2 for n in served.values()), served
        stop(proc)  # one target server dies mid-run
        with ThreadPoolExecutor(4) as pool:
            steps = list(pool.map(lambda chat: model.generate_step(chat, " Let", sampling), chats))
        assert len(steps) == 8 and all(s.generated_tokens > 0 for s in steps)
        after = {e.url: e.served for e in model.pool.endpoints}
        assert after[url] - served[url] >= 8, "every request moved to the live server"
        dead = next(e for e in model.pool.endpoints if e.url == second)
        assert dead.failures >= 1 and dead.down_until > 0  # taken out (its 2 s back-off may be over by now)


@pytest.mark.skipif(not DATA.exists(), reason="needs ../shared/data/gsm8k.jsonl")
def test_the_only_server_dies_mid_eval_then_resume_finishes_every_question_once(tmp_path):
    dataset = tmp_path / "gsm8k.jsonl"
    with open(DATA, encoding="utf-8") as src:
        dataset.write_text("".join(next(src) for _ in range(8)), encoding="utf-8")
    port = free_port()
    base = f"http://127.0.0.1:{port}/v1"
    command = [sys.executable, "-m", "rewardspec", "eval", "--dataset", str(dataset), "--methods", "target",
               "--target", f"openai:tiny@{base}?attempts=3", "--max-tokens", "40", "--concurrency", "4",
               "--output", str(tmp_path / "run")]
    samples = tmp_path / "run" / "samples-target.jsonl"
    proc = start_server(port)
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while run.poll() is None and (not samples.exists() or len(samples.read_text().splitlines()) < 2):
        time.sleep(0.05)
    stop(proc)
    _, err = run.communicate(timeout=300)
    kept = [json.loads(line)["id"] for line in samples.read_text().splitlines()]
    assert run.returncode == 2, err
    assert "Traceback" not in err and base in err and "--resume" in err
    assert 2 <= len(kept) < 8 and len(set(kept)) == len(kept)
    proc = start_server(port)
    try:
        done = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=600)
    finally:
        stop(proc)
    assert done.returncode == 0, done.stderr
    ids = [json.loads(line)["id"] for line in samples.read_text().splitlines()]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 8
    assert ids[: len(kept)] == kept  # nothing written before was lost or rewritten


def test_serve_with_every_role_on_a_server(url, tmp_path):
    """`rewardspec serve` over remote draft, target and judge: concurrent requests all answered."""
    import openai

    config = tmp_path / "serve.yaml"
    config.write_text(
        "draft: {backend: openai, model: tiny, base_urls: [%s]}\n"
        "target: {backend: openai, model: tiny, base_urls: [%s]}\n"
        "reward: judge:tiny@%s\nmodel_id: remote-rsd\nmax_concurrent_requests: 4\n" % (url, url, url))
    port = free_port()
    proc = start_serve(config, port, stdout=subprocess.DEVNULL)
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none", max_retries=0, timeout=300)

        def ask(i: int):
            return client.chat.completions.create(model="remote-rsd", max_tokens=24, seed=0,
                                                  messages=[{"role": "user", "content": f"What is {i} + 1?"}])

        with ThreadPoolExecutor(4) as pool:
            replies = list(pool.map(ask, range(4)))
        assert all(r.choices[0].message.content and r.rsd["steps"] for r in replies)
        assert all(r.usage.completion_tokens <= 24 for r in replies)
    finally:
        stop_serve(proc)
