"""`rewardspec serve` end to end: a real uvicorn server on 127.0.0.1, the official
`openai` SDK as the client (sync, async, streaming), SmolLM2-135M as draft and target.

Budgets are tiny (a few tokens per request) to keep the suite fast on two cores. Whatever
must happen in some order (requests in flight together, a client gone before the next step)
is arranged with a gate on the model, never by timing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import threading
from contextlib import contextmanager

import httpx
import openai
import pytest

from rewardspec.serve import create_app, parse_config
from rewardspec.serve.locks import current_scope

from processes import HANG_S, serve_app, wait_until

pytestmark = pytest.mark.models  # SmolLM2-135M, the embedded GGUF

BASE = dict(draft="tiny", target="tiny", reward="likelihood", n_threads=1, n_ctx=1024,
            max_concurrent_requests=32, default_max_tokens=6, max_tokens=400)
SYSTEM = {"role": "system", "content": "Be brief."}


def chat(question: str) -> list[dict]:
    return [SYSTEM, {"role": "user", "content": question}]


class Running:
    def __init__(self, url: str, app) -> None:
        self.url, self.app = url, app
        self.engine = app.state.engine

    def client(self, **kw) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=kw.pop("api_key", "none"),
                             max_retries=0, timeout=120, **kw)

    def async_client(self, **kw) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=f"{self.url}/v1", api_key=kw.pop("api_key", "none"),
                                  max_retries=0, timeout=300, **kw)

    def wait_idle(self) -> None:
        """Until no request holds a slot."""
        wait_until(lambda: self.engine.active == 0, "requests still running")


def single_thread_batches(model) -> None:
    """llama-cpp-python evaluates prompt batches on every core (n_threads_batch defaults to
    cpu_count) whatever n_threads says; on a busy 2-core machine those threads spin against
    each other and a 40-token prompt takes seconds instead of 0.3 s. Pin them to 1."""
    import llama_cpp

    llama_cpp.llama_set_n_threads(model.llm._ctx.ctx, 1, 1)


@contextmanager
def serving(**overrides):
    config = parse_config({**BASE, **overrides})
    app = create_app(config)
    single_thread_batches(app.state.engine.draft)
    with serve_app(app, timeout_graceful_shutdown=2) as url:
        yield Running(url, app)


@contextmanager
def gated(model, hold=lambda: True):
    """Hold each ``generate_step`` of ``model`` made while ``hold()`` is true until the yielded
    gate is set: a request stays in flight, at a known point, for as long as the test needs.
    Also yields the request scope of every held call, in order."""
    gate, held = threading.Event(), []
    original = model.generate_step

    def generate_step(*args, **kwargs):
        if hold() and not gate.is_set():
            held.append(current_scope())
            assert gate.wait(HANG_S), "the test never opened the gate"
        return original(*args, **kwargs)

    model.generate_step = generate_step
    try:
        yield gate, held
    finally:
        gate.set()
        del model.generate_step


@pytest.fixture(scope="module")
def srv():
    with serving() as running:
        yield running


@pytest.fixture(scope="module")
def client(srv):
    return srv.client()


def steps_of(resp) -> list[tuple]:
    return [(s["choice"], s["text"], s["source"], s["reward"]) for s in resp.rsd["steps"]]


# -- the SDK, sync -----------------------------------------------------------------
def test_models_and_health(srv, client):
    ids = [m.id for m in client.models.list().data]
    assert ids == ["rsd", "rsd-target", "rsd-draft"]
    card = client.models.retrieve("rsd-target")
    assert card.id == "rsd-target" and card.rsd["method"] == "target"
    health = httpx.get(f"{srv.url}/health").json()
    assert health["status"] == "ok" and health["models"]["draft"] == "smollm2-135m"


def test_chat_completion_has_usage_and_rsd_provenance(srv, client):
    messages = chat("What is 2 plus 3?")
    resp = client.chat.completions.create(model="rsd", messages=messages, max_tokens=8, seed=3)
    choice = resp.choices[0]
    assert resp.object == "chat.completion" and resp.model == "rsd"
    assert choice.message.role == "assistant" and choice.finish_reason in ("stop", "length")
    rsd = resp.rsd
    assert rsd["method"] == "rsd" and rsd["delta"] == 0.7
    steps = rsd["steps"]
    assert steps and "".join(s["text"] for s in steps) == choice.message.content
    assert rsd["draft_steps"] + rsd["target_steps"] == len(steps)
    for s in steps:
        assert s["source"] in ("draft", "target")
        if s["source"] == "draft":
            assert s["reward"] >= 0.7
        else:
            assert s["reward"] is None and s["rejected_draft"]["reward"] < 0.7
    # usage: the prompt as the model tokenised it; the response's tokens
    expected_prompt = len(srv.engine.draft._tokens(messages, ""))
    assert resp.usage.prompt_tokens == expected_prompt
    assert resp.usage.completion_tokens == sum(s["generated_tokens"] for s in steps) <= 8
    assert resp.usage.total_tokens == expected_prompt + resp.usage.completion_tokens
    usage = rsd["usage"]
    assert set(usage) == {"draft", "target", "reward"}
    draft = usage["draft"]
    assert draft["flops"] == 2 * draft["params"] * draft["generated_tokens"]
    assert rsd["flops"] == pytest.approx(sum(u["flops"] for u in usage.values()))
    assert choice.rsd["seed"] == 3


def test_text_completions_with_several_prompts(client):
    resp = client.completions.create(model="rsd", prompt=["What is 2 plus 3?", "Name a color."],
                                     max_tokens=4, seed=1)
    assert resp.object == "text_completion"
    assert [c.index for c in resp.choices] == [0, 1]
    assert all(c.text for c in resp.choices)
    assert resp.usage.completion_tokens == sum(s["generated_tokens"] for s in resp.rsd["steps"])
    assert {s["choice"] for s in resp.rsd["steps"]} == {0, 1}


def test_method_and_delta_per_request(client):
    messages = chat("What is 6 times 7?")
    draft = client.chat.completions.create(model="rsd", messages=messages, max_tokens=5, seed=2,
                                           extra_body={"method": "draft"})
    assert draft.rsd["method"] == "draft" and draft.rsd["target_steps"] == 0
    assert draft.rsd["models"]["target"] is None and draft.rsd["delta"] is None
    target = client.chat.completions.create(model="rsd-target", messages=messages, max_tokens=5,
                                            seed=2)
    assert target.rsd["method"] == "target" and target.rsd["draft_steps"] == 0
    accept_all = client.chat.completions.create(model="rsd", messages=messages, max_tokens=5,
                                                seed=2, extra_body={"rsd_delta": 0.0})
    assert accept_all.rsd["delta"] == 0.0 and accept_all.rsd["target_steps"] == 0
    # δ = 0 accepts every draft step: the text is the draft's own
    assert accept_all.choices[0].message.content == draft.choices[0].message.content


def test_n_choices_use_consecutive_seeds(client):
    messages = chat("Tell me a number.")
    both = client.chat.completions.create(model="rsd-draft", messages=messages, max_tokens=5,
                                          n=2, seed=10, temperature=1.0)
    second = client.chat.completions.create(model="rsd-draft", messages=messages, max_tokens=5,
                                            seed=11, temperature=1.0)
    assert [c.rsd["seed"] for c in both.choices] == [10, 11]
    assert both.choices[1].message.content == second.choices[0].message.content
    assert both.usage.prompt_tokens == second.usage.prompt_tokens  # the prompt counts once


def test_stop_sequences_cut_the_answer(client):
    messages = chat("Count from one to five.")
    full = client.chat.completions.create(model="rsd-draft", messages=messages, max_tokens=10,
                                          seed=0)
    text = full.choices[0].message.content
    words = text.split()
    assert len(words) >= 2, text
    stop = words[1]
    cut = client.chat.completions.create(model="rsd-draft", messages=messages, max_tokens=10,
                                         seed=0, stop=[stop])
    assert cut.choices[0].message.content == text[: text.index(stop)]
    assert cut.choices[0].finish_reason == "stop"


# -- streaming ----------------------------------------------------------------------
def test_streaming_chunks_carry_source_and_reward(client):
    kwargs = dict(model="rsd", messages=chat("What is 9 minus 4?"), max_tokens=8, seed=4)
    stream = client.chat.completions.create(stream=True, stream_options={"include_usage": True},
                                            **kwargs)
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    step_chunks = [c for c in chunks if c.choices and c.choices[0].finish_reason is None
                   and (c.choices[0].model_extra or {}).get("rsd")]
    assert step_chunks
    for i, c in enumerate(step_chunks):
        info = c.choices[0].rsd
        assert info["step"] == i and info["source"] in ("draft", "target") and "reward" in info
    final = [c for c in chunks if c.choices and c.choices[0].finish_reason][0]
    assert final.choices[0].rsd["steps"] == len(step_chunks)
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == [] and usage_chunk.usage.completion_tokens > 0
    # the same request without streaming gives the same text and provenance
    plain = client.chat.completions.create(**kwargs)
    streamed = "".join(c.choices[0].delta.content or "" for c in step_chunks)
    assert streamed == plain.choices[0].message.content
    assert [(c.choices[0].rsd["source"], c.choices[0].rsd["reward"]) for c in step_chunks] == \
        [(s["source"], s["reward"]) for s in plain.rsd["steps"]]
    assert usage_chunk.usage.completion_tokens == plain.usage.completion_tokens


def test_streaming_text_completion(client):
    stream = client.completions.create(model="rsd", prompt="What is 1 plus 1?", max_tokens=5,
                                       seed=0, stream=True)
    chunks = list(stream)
    steps = [c for c in chunks if c.choices[0].finish_reason is None]
    assert steps and all(c.choices[0].rsd["source"] in ("draft", "target") for c in steps)
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


# -- async and load -----------------------------------------------------------------
QUESTIONS = ["What is 2 plus 2?", "Name a fruit.", "What is 10 minus 3?", "Say hello.",
             "What color is the sky?", "Count to three."]


def _request(i: int) -> dict:
    return dict(model=("rsd", "rsd", "rsd", "rsd-draft")[i % 4], messages=chat(QUESTIONS[i % 6]),
                max_tokens=5, seed=i, temperature=0.8, extra_body={"rsd_delta": 0.5})


def _outcome(resp) -> tuple:
    return resp.choices[0].message.content, steps_of(resp), resp.usage.completion_tokens


def test_async_client(srv):
    async def main():
        async with srv.async_client() as aclient:
            resp = await aclient.chat.completions.create(**_request(0))
            stream = await aclient.chat.completions.create(stream=True, **_request(0))
            texts = [c.choices[0].delta.content async for c in stream
                     if c.choices and c.choices[0].delta.content]
            return resp, texts

    resp, texts = asyncio.run(main())
    assert "".join(texts) == resp.choices[0].message.content


def test_32_concurrent_requests_match_sequential_runs(srv):
    """All succeed, are in flight at once, and give exactly what they give one at a time."""
    client = srv.client()
    sequential = [_outcome(client.chat.completions.create(**_request(i))) for i in range(32)]

    async def main(held):
        async with srv.async_client() as aclient:
            replies = asyncio.gather(*(aclient.chat.completions.create(**_request(i)) for i in range(32)))
            # Each request stops at its first model call: all 32 are admitted and in flight together.
            while len(held) < 32:
                if replies.done():  # a request failed (a held one, after HANG_S) or finished first
                    await replies
                    pytest.fail("the requests finished without all being in flight at once")
                await asyncio.sleep(0.02)
            in_flight = srv.engine.active
            gate.set()
            return await replies, in_flight

    with gated(srv.engine.draft) as (gate, held):
        results, in_flight = asyncio.run(main(held))
    assert in_flight == 32 and len({id(scope) for scope in held}) == 32
    assert [_outcome(r) for r in results] == sequential
    assert len({text for text, _, _ in sequential}) > 6  # seeds and prompts really differ


# -- cancellation -------------------------------------------------------------------
def test_a_disconnected_stream_stops_consuming_steps(srv, client):
    """Uncancelled, this request writes 400 tokens in 6 steps. Its model calls after the first
    step are held until the server has seen the client go: exactly one step is decided."""
    before = dataclasses.replace(srv.engine.stats)

    def after_first_step() -> bool:
        return srv.engine.stats.steps > before.steps

    with gated(srv.engine.draft, hold=after_first_step) as (gate, held):
        stream = client.chat.completions.create(model="rsd", messages=chat("Write a long story."),
                                                max_tokens=400, seed=0, temperature=0.7, stream=True)
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                break
        stream.close()
        # Its next model call (or the job's end, if a check stopped it before that call) shows it.
        wait_until(lambda: (held and held[0].cancelled.is_set()) or srv.engine.active == 0,
                   "the server did not see the client go")
    srv.wait_idle()
    stats = srv.engine.stats
    assert stats.cancelled == before.cancelled + 1
    assert stats.steps - before.steps == 1, "the step read, and nothing after it"


def post_and_hang_up(url: str, path: str, body: dict, held: list) -> None:
    """POST ``body`` on a raw connection and close it once the request is held at the gate."""
    address = httpx.URL(url)
    payload = json.dumps(body).encode()
    with socket.create_connection((address.host, address.port), timeout=HANG_S) as conn:
        conn.sendall(f"POST {path} HTTP/1.1\r\nHost: {address.host}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
        wait_until(lambda: held, "the request never reached the model")


def test_a_disconnected_plain_request_is_cancelled(srv):
    before = dataclasses.replace(srv.engine.stats)
    with gated(srv.engine.draft) as (gate, held):
        post_and_hang_up(srv.url, "/v1/chat/completions", {
            "model": "rsd", "messages": chat("Write a long story."), "max_tokens": 400, "temperature": 0.7,
            "seed": 0}, held)
        wait_until(lambda: held[0].cancelled.is_set(), "the server did not see the client go")
    srv.wait_idle()
    assert srv.engine.stats.cancelled == before.cancelled + 1
    assert srv.engine.stats.steps == before.steps  # it stopped in its first step


# -- errors ---------------------------------------------------------------------------
def _error(exc: openai.APIStatusError) -> dict:
    body = exc.response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    assert "Traceback" not in exc.response.text
    return body["error"]


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="gpt-4o", messages=chat("hi"))
    e = _error(err.value)
    assert e["code"] == "model_not_found" and e["param"] == "model" and "rsd" in e["message"]


@pytest.mark.parametrize("kwargs, status, param", [
    (dict(messages=[{"role": "wizard", "content": "hi"}]), 422, "messages.0.role"),
    (dict(messages=chat("hi"), temperature=7), 422, "temperature"),
    (dict(messages=chat("hi"), extra_body={"rsd_delta": 1.5}), 422, "rsd_delta"),
    (dict(messages=chat("hi"), extra_body={"method": "beam"}), 400, "method"),  # a method not served here
    (dict(messages=chat("hi"), extra_body={"method": "beem"}), 400, "method"),
    (dict(messages=chat("hi"), max_tokens=100_000), 400, "max_tokens"),
    (dict(messages=chat("hi"), n=50), 400, "n"),
    (dict(messages=[SYSTEM]), 400, "messages"),
    (dict(messages=chat("hi"), tools=[{"type": "function", "function": {"name": "f"}}]), 400,
     "tools"),
    (dict(messages=chat("hi"), logprobs=True), 400, "logprobs"),
])
def test_bad_requests_get_openai_errors(client, kwargs, status, param):
    with pytest.raises(openai.APIStatusError) as err:
        client.chat.completions.create(model="rsd", **kwargs)
    assert err.value.status_code == status
    assert _error(err.value)["param"] == param


def test_a_prompt_longer_than_the_context_is_400_streaming_or_not(client):
    huge = chat("apple " * 1500)  # n_ctx is 1024 here
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as err:
            client.chat.completions.create(model="rsd", messages=huge, max_tokens=4, stream=stream)
        assert "context window" in _error(err.value)["message"]


def test_pinned_model_and_conflicting_method_is_400(client):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="rsd-target", messages=chat("hi"),
                                       extra_body={"method": "draft"})
    assert _error(err.value)["param"] == "method"


def test_malformed_json_and_unknown_paths(srv):
    bad = httpx.post(f"{srv.url}/v1/chat/completions", content=b'{"model": "rsd", "messages": [',
                     headers={"content-type": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
    missing = httpx.post(f"{srv.url}/v1/completions", json={"model": "rsd"})
    assert missing.status_code == 422 and missing.json()["error"]["param"] == "prompt"
    tokens = httpx.post(f"{srv.url}/v1/completions", json={"model": "rsd", "prompt": [1, 2, 3]})
    assert tokens.status_code == 400
    nowhere = httpx.get(f"{srv.url}/v1/engines")
    assert nowhere.status_code == 404 and set(nowhere.json()["error"]) >= {"message", "type"}
    wrong_verb = httpx.get(f"{srv.url}/v1/chat/completions")
    assert wrong_verb.status_code == 405 and "error" in wrong_verb.json()


def test_server_failures_are_500_with_a_message(srv, client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the model caught fire")

    monkeypatch.setattr(srv.engine, "solver", broken)
    with pytest.raises(openai.InternalServerError) as err:
        client.chat.completions.create(model="rsd", messages=chat("hi"))
    e = _error(err.value)
    assert err.value.status_code == 500 and "the model caught fire" in e["message"]
    monkeypatch.undo()

    import rewardspec.serve.app as app_module

    monkeypatch.setattr(app_module, "plan_request", lambda *a, **k: 1 / 0)
    with pytest.raises(openai.InternalServerError) as err:
        client.chat.completions.create(model="rsd", messages=chat("hi"))
    assert "ZeroDivisionError" in _error(err.value)["message"]


# -- overload, auth, shutdown -----------------------------------------------------------
def test_overload_is_429_at_once_and_shutdown_503():
    with serving(max_concurrent_requests=1, max_queued_requests=0, api_key="sekret") as small:
        client = small.client(api_key="sekret")
        with pytest.raises(openai.AuthenticationError):
            small.client(api_key="wrong").models.list()
        assert httpx.get(f"{small.url}/health").status_code == 200  # probes need no key

        with gated(small.engine.draft) as (gate, held):
            busy = threading.Thread(target=lambda: client.chat.completions.create(
                model="rsd", messages=chat("Write a story."), max_tokens=4))
            busy.start()
            wait_until(lambda: held, "the first request never reached the model", alive=busy.is_alive)
            assert small.engine.active == 1  # admitted and decoding
            with pytest.raises(openai.RateLimitError) as err:
                client.chat.completions.create(model="rsd", messages=chat("hi"), max_tokens=2)
            # At once: refused while the only slot is still held, not after waiting for it.
            assert busy.is_alive() and small.engine.active == 1 and not gate.is_set()
            assert _error(err.value)["code"] == "too_many_concurrent_requests"
            assert int(err.value.response.headers["retry-after"]) >= 1
            gate.set()
            busy.join(HANG_S)
        assert not busy.is_alive()
        small.wait_idle()
        ok = client.chat.completions.create(model="rsd", messages=chat("hi"), max_tokens=2)
        assert ok.choices[0].message.content is not None

        small.engine.shutdown()
        with pytest.raises(openai.InternalServerError) as err:
            client.chat.completions.create(model="rsd", messages=chat("hi"), max_tokens=2)
        assert err.value.status_code == 503 and _error(err.value)["code"] == "shutting_down"


def test_every_method_in_the_table_is_served_through_the_same_path():
    """best_of_n and majority, asked for by name, run through the same build and job path as rsd."""
    with serving(methods=["rsd", "best_of_n", "majority"], n=2, default_max_tokens=8) as running:
        client = running.client()
        models = {m.id for m in client.models.list().data}
        assert models == {"rsd"}  # target and draft are not served here, so no pinned ids
        for method in ("best_of_n", "majority"):
            reply = client.chat.completions.create(model="rsd", messages=chat("What is 2 + 3?"), seed=1,
                                                   extra_body={"method": method})
            extension = reply.model_extra["rsd"]
            assert extension["method"] == method and extension["delta"] is None
            assert extension["models"]["target"] is None and extension["models"]["draft"]
            # Two samples were drawn and paid for; one was delivered.
            assert extension["usage"]["draft"]["generated_tokens"] > reply.usage.completion_tokens > 0
            assert reply.choices[0].message.content
        with pytest.raises(openai.BadRequestError, match="not served here"):
            client.chat.completions.create(model="rsd", messages=chat("hi"), extra_body={"method": "beam"})


def test_sd_is_served_with_its_steps_streamed_and_its_prompt_counted():
    with serving(methods=["rsd", "sd"], default_max_tokens=8) as running:
        client = running.client()
        reply = client.chat.completions.create(model="rsd", messages=chat("What is 2 + 3?"),
                                               extra_body={"method": "sd"})
        assert reply.model_extra["rsd"]["method"] == "sd" and reply.choices[0].message.content
        assert reply.usage.prompt_tokens > 0
        stream = client.chat.completions.create(model="rsd", messages=chat("What is 2 + 3?"), stream=True,
                                                extra_body={"method": "sd"})
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert text == reply.choices[0].message.content  # greedy: the same answer, streamed
        # sd decodes in llama.cpp's own loop: a repetition penalty would be dropped there, so it is refused
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model="rsd", messages=chat("What is 2 + 3?"),
                                           extra_body={"method": "sd", "repetition_penalty": 1.3})
        error = refused.value.body
        assert error["param"] == "repetition_penalty" and error["code"] == "unsupported_parameter"
        # top_k=1 at temperature 1 leaves one token to draw: two seeds give the same text, vLLM's extras honoured
        texts = {client.chat.completions.create(model="rsd", messages=chat("Name a colour."), temperature=1.0,
                                                seed=seed, extra_body={"top_k": 1, "min_p": 0.0,
                                                                       "repetition_penalty": 1.0}
                                                ).choices[0].message.content for seed in (1, 2)}
        assert len(texts) == 1
