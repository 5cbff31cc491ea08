"""The remote backend's pure logic: specs, retries, balancing, dead endpoints. No server."""

from __future__ import annotations

import random

import pytest

from rewardspec.build import solver_settings
from rewardspec.endpoints import (
    EndpointPool,
    RemoteEngineError,
    RetryableError,
    RetryPolicy,
    session_key,
)
from rewardspec.errors import InvalidInputError
from rewardspec.models.remote import RemoteSpec, role_spec


def test_every_option_survives_the_round_trip_through_a_mapping():
    fields = {"model": "m", "base_urls": ["http://a/v1"], "template": "/models/a b+c&d", "params": 7e9,
              "api_key_env": "K", "timeout_s": 30, "max_in_flight": 64, "attempts": 9, "logprobs": False,
              "seed": False}
    spec = RemoteSpec.parse(role_spec(fields).partition(":")[2])
    assert (spec.template, spec.params, spec.api_key_env, spec.timeout_s, spec.max_in_flight, spec.attempts,
            spec.logprobs, spec.seed) == ("/models/a b+c&d", 7_000_000_000, "K", 30.0, 64, 9, False, False)


@pytest.mark.parametrize("query", ["max_in_flight=inf", "attempts=1e400", "timeout_s=nan", "attempts=0",
                                   "timeout_s=-1", "logprobs=maybe", "seed=sometimes"])
def test_out_of_range_options_are_one_clear_error(query):
    with pytest.raises(InvalidInputError, match="remote model 'm'"):
        RemoteSpec.parse(f"m@http://a/v1?{query}")


def test_a_spec_names_model_urls_and_options():
    spec = RemoteSpec.parse("Qwen/Qwen2.5-Math-7B-Instruct@http://a:8001/v1,http://b:8001/v1/?params=7.6e9&logprobs=true")
    assert spec.model == "Qwen/Qwen2.5-Math-7B-Instruct"
    assert spec.base_urls == ("http://a:8001/v1", "http://b:8001/v1")
    assert spec.params == 7_600_000_000 and spec.logprobs
    assert RemoteSpec.parse(spec.to_spec().partition(":")[2]) == spec


@pytest.mark.parametrize(("source", "needle"), [
    ("tiny", "MODEL@http"), ("@http://a/v1", "MODEL@http"), ("tiny@", "MODEL@http"),
    ("tiny@ftp://a/v1", "must start with http"), ("tiny@http://a/v1?colour=red", "unknown option"),
    ("tiny@http://a/v1?params=many", "params"),
])
def test_bad_specs_say_what_is_wrong(source, needle):
    with pytest.raises(InvalidInputError, match=needle):
        RemoteSpec.parse(source)


def test_a_yaml_role_mapping_becomes_the_spec():
    settings = solver_settings(target={"backend": "openai", "model": "qwen-7b", "params": 7.6e9,
                                       "base_urls": ["http://10.0.0.1:8001/v1", "http://10.0.0.2:8001/v1"],
                                       "api_key_env": "VLLM_KEY", "template": "/models/qwen-7b"})
    spec = RemoteSpec.parse(settings.target.partition(":")[2])
    assert spec.base_urls == ("http://10.0.0.1:8001/v1", "http://10.0.0.2:8001/v1")
    assert (spec.model, spec.params, spec.api_key_env, spec.template) == ("qwen-7b", 7_600_000_000, "VLLM_KEY",
                                                                          "/models/qwen-7b")
    assert role_spec("tiny") == "tiny"
    for bad, needle in [({"model": "m"}, "base_urls"), ({"model": "m", "base_urls": []}, "base_urls"), ({"backend": "vllm", "model": "m", "base_urls": "http://a"},
                                                        "backend"),
                        ({"model": "m", "base_urls": "http://a", "colour": 1}, "colour")]:
        with pytest.raises(Exception, match=needle):
            solver_settings(draft=bad)


def test_retry_delays_grow_with_full_jitter_and_a_cap():
    policy, rng = RetryPolicy(base_s=0.5, cap_s=4.0), random.Random(0)
    for attempt in range(8):
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        ceiling = min(4.0, 0.5 * 2**attempt)
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.8 * ceiling  # jitter spans the whole range
    assert [policy.down_for(n) for n in (1, 2, 3, 10)] == [2.0, 4.0, 8.0, 60.0]


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _pool(urls=("http://a/v1", "http://b/v1"), **kw):
    clock = Clock()
    return EndpointPool(urls, clock=clock, sleep=lambda s: None, **kw), clock


def test_requests_go_to_the_endpoint_with_fewest_outstanding_and_stay_there():
    pool, _ = _pool()
    a, b = pool.endpoints
    a.outstanding = 3
    assert pool.pick("chat-1") is b
    a.outstanding, b.outstanding = 0, 5
    assert pool.pick("chat-1") is b  # sticky: its prefix is in b's cache
    assert pool.pick("chat-2") is a
    assert pool.pick(None) is a


def test_requests_waiting_for_a_slot_count_as_load():
    pool, _ = _pool()
    picked = [pool.pick(f"chat-{i}") for i in range(16)]  # 16 new chats at once, none finished yet
    assert sorted(sum(e is p for p in picked) for e in pool.endpoints) == [8, 8]


def test_a_blip_puts_an_endpoint_out_once_not_once_per_request():
    pool, clock = _pool()
    a = pool.endpoints[0]
    for _ in range(16):  # 16 requests in flight on a when it blips
        pool._failed(a, started=clock.now)
    assert a.failures == 1 and a.down_until == clock.now + RetryPolicy().down_for(1)


def test_with_every_endpoint_out_a_retry_waits_for_the_first_to_return():
    waits = []
    pool, clock = _pool(urls=("http://only/v1",), policy=RetryPolicy(attempts=2))
    pool.sleep = lambda s: (waits.append(s), setattr(clock, "now", clock.now + s))

    def attempt(endpoint):
        if not waits:
            raise RetryableError("HTTP 503")
        return "ok"

    assert pool.call("completion", None, attempt) == "ok"
    assert sum(waits) >= RetryPolicy().down_for(1) - 1e-9  # jitter, then the rest of the back-off


def test_a_dead_endpoint_is_taken_out_and_comes_back():
    pool, clock = _pool()
    a, b = pool.endpoints
    calls = []

    def attempt(endpoint):
        calls.append(endpoint.url)
        if endpoint is a:
            raise RetryableError("connection refused")
        return "ok"

    assert pool.call("completion", "chat", attempt) == "ok"
    assert calls[-1] == b.url and not a.alive(clock.now)
    assert pool.pick("other") is b  # a is out
    clock.now += RetryPolicy().down_for(1) + 0.1
    assert a.alive(clock.now)
    a.outstanding, b.outstanding = 0, 1
    assert pool.pick("third") is a  # back once its back-off has passed


def test_bounded_retries_then_one_error_naming_the_endpoint():
    pool, _ = _pool(urls=("http://only:9/v1",), policy=RetryPolicy(attempts=3))
    tries = []

    def attempt(endpoint):
        tries.append(1)
        raise RetryableError("HTTP 503: overloaded")

    with pytest.raises(RemoteEngineError, match=r"http://only:9/v1 failed 3 times; last: HTTP 503"):
        pool.call("completion", None, attempt)
    assert len(tries) == 3


def test_errors_that_are_not_worth_retrying_are_raised_at_once():
    pool, _ = _pool()
    tries = []

    def attempt(endpoint):
        tries.append(1)
        raise RemoteEngineError("http://a/v1 refused the request (HTTP 400): bad prompt")

    with pytest.raises(RemoteEngineError, match="HTTP 400"):
        pool.call("completion", None, attempt)
    assert len(tries) == 1


def test_session_key_is_the_chat():
    chat = [{"role": "user", "content": "2+2?"}]
    assert session_key(chat) == session_key([dict(chat[0])])
    assert session_key(chat) != session_key([{"role": "user", "content": "2+3?"}])


def _choice(top=None, text=""):
    logprobs = {"content": [{"token": text, "logprob": 0.0, "top_logprobs": top}]} if top is not None else None
    return {"message": {"content": text}, "logprobs": logprobs}


def test_the_judge_reads_the_expected_digit_from_top_logprobs():
    import math

    from rewardspec.rewards.judge import rating_from

    half = math.log(0.5)
    assert rating_from(_choice([{"token": "9", "logprob": half}, {"token": "0", "logprob": half}])) == 0.5
    # non-digits are ignored and the digits renormalised; " 7" is the digit 7
    assert rating_from(_choice([{"token": " 7", "logprob": -0.1}, {"token": "The", "logprob": -0.5}])) == 7 / 9
    assert rating_from(_choice(None, "8")) == 8 / 9  # no log-probabilities: the digit written
    assert rating_from(_choice([{"token": "yes", "logprob": 0.0}], "I rate it 6")) == 6 / 9
    assert rating_from(_choice(None, "no idea")) == 0.0  # no digit at all: the safe side, rejected


def test_judge_specs():
    from rewardspec.rewards import make_reward
    from rewardspec.rewards.judge import JudgeReward

    judge = JudgeReward(RemoteSpec.parse("qwen-7b@http://127.0.0.1:9/v1?params=7e9"))
    assert (judge.name, judge.params, judge._logprobs) == ("judge:qwen-7b", 7_000_000_000, True)
    assert JudgeReward(RemoteSpec.parse("m@http://a/v1?logprobs=false"))._logprobs is False
    with pytest.raises(InvalidInputError, match="judge:MODEL@http"):
        make_reward("judge:qwen-7b")
    with pytest.raises(RemoteEngineError, match="unreachable"):  # checked when it is built
        make_reward("judge:openai:qwen-7b@http://127.0.0.1:9/v1")


# --- the wire protocol, against scripted HTTP replies (httpx.MockTransport) -------------------

import json as _json  # noqa: E402

import httpx  # noqa: E402

from rewardspec.models.base import SamplingParams  # noqa: E402
from rewardspec.models.remote import RemoteModel  # noqa: E402


class WordRenderer:
    """A stand-in tokenizer: one token per word."""

    params = 1000

    def prompt(self, messages):
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>"

    def count(self, text):
        return len(text.split())


def _sse(*chunks):
    return "".join(f"data: {_json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"


def _piece(text, finish=None, **extra):
    return {"choices": [{"text": text, "finish_reason": finish, **extra}]}


def scripted_model(replies, spec="m@http://one/v1"):
    """A RemoteModel whose server answers ``replies`` in turn (each a callable(request) or a Response)."""
    from rewardspec.models.remote import RemoteSpec

    model = RemoteModel(RemoteSpec.parse(spec), renderer=WordRenderer())
    seen = []

    def handler(request):
        seen.append(_json.loads(request.content))
        reply = replies[min(len(seen), len(replies)) - 1]
        return reply(request) if callable(reply) else reply

    for endpoint in model.pool.endpoints:
        endpoint.client = httpx.Client(base_url=endpoint.url, transport=httpx.MockTransport(handler))
    model.pool.sleep = lambda s: None
    return model, seen


CHAT = [{"role": "user", "content": "two plus two"}]


def test_a_step_is_cut_on_the_streamed_separator_merged_token_and_all():
    stream = _sse(_piece("So"), _piece(" 2+2=4"), _piece(".\n\nNext"), _piece(" never read"))
    model, seen = scripted_model([httpx.Response(200, text=stream)])
    step = model.generate_step(CHAT, "", SamplingParams(max_tokens=50))
    assert (step.text, step.finish_reason, step.generated_tokens) == ("So 2+2=4.\n\n", "step", 3)
    body = seen[0]
    assert body["prompt"] == "<user>two plus two<assistant>" and body["stream"] and "stop" not in body
    assert body["repeat_penalty"] == 1.0 and body["temperature"] == 0.0 and body["max_tokens"] == 50


def test_end_of_sequence_counts_a_token_and_the_servers_cache_count_is_used():
    usage = {"prompt_tokens": 40, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 36}}
    stream = _sse(_piece("The answer"), _piece(" is 4", "stop"), {"choices": [], "usage": usage})
    model, _ = scripted_model([httpx.Response(200, text=stream)])
    step = model.generate_step(CHAT, "Earlier text. ", SamplingParams(max_tokens=50))
    assert (step.text, step.finish_reason, step.generated_tokens, step.prompt_tokens) == (
        "The answer is 4", "eos", 3, 4)


def test_without_a_cache_report_prefix_caching_is_assumed():
    model, _ = scripted_model([httpx.Response(200, text=_sse(_piece("One two.\n\n")))] * 2)
    first = model.generate_step(CHAT, "", SamplingParams(max_tokens=9))
    second = model.generate_step(CHAT, first.text + "Three four five", SamplingParams(max_tokens=9))
    assert first.prompt_tokens == WordRenderer().count(WordRenderer().prompt(CHAT))
    assert second.prompt_tokens == 3  # only the text past what the server saw last


def test_5xx_and_a_dropped_stream_are_retried_then_succeed():
    def dropped(request):
        raise httpx.RemoteProtocolError("peer closed connection", request=request)

    ok = httpx.Response(200, text=_sse(_piece("Fine.\n\n")))
    model, seen = scripted_model([httpx.Response(503, text="busy"), dropped, ok])
    assert model.generate_step(CHAT, "", SamplingParams(max_tokens=9)).text == "Fine.\n\n"
    assert len(seen) == 3


def test_an_error_event_or_a_stream_without_an_end_is_retried_not_taken_as_a_step():
    error = httpx.Response(200, text=_sse(_piece("Half"), {"error": {"message": "engine died"}}))
    cut_short = httpx.Response(200, text=_sse(_piece("Half a step")))
    ok = httpx.Response(200, text=_sse(_piece("Whole.\n\n")))
    model, seen = scripted_model([error, cut_short, ok])
    assert model.generate_step(CHAT, "", SamplingParams(max_tokens=9)).text == "Whole.\n\n"
    assert len(seen) == 3


def test_a_reply_that_is_not_json_is_one_error():
    from rewardspec.endpoints import json_reply

    with pytest.raises(RemoteEngineError, match="not JSON"):
        json_reply("http://a/v1", httpx.Response(200, text="<html>proxy</html>"))
    with pytest.raises(RemoteEngineError, match="without choices"):
        json_reply("http://a/v1", httpx.Response(200, json={"object": "list"}))


def test_a_4xx_is_one_error_at_once_naming_the_server():
    model, seen = scripted_model([httpx.Response(400, text='{"error": "max_tokens too large"}')])
    with pytest.raises(RemoteEngineError, match=r"http://one/v1 refused the request \(HTTP 400\).*max_tokens"):
        model.generate_step(CHAT, "", SamplingParams(max_tokens=9))
    assert len(seen) == 1


def test_log_probabilities_are_asked_for_and_kept_when_configured():
    lp = {"token_logprobs": [-0.5]}
    stream = _sse(_piece("A", logprobs=lp), _piece(" b.\n\n", logprobs={"token_logprobs": [-0.25]}))
    model, seen = scripted_model([httpx.Response(200, text=stream)], spec="m@http://one/v1?logprobs=true")
    step = model.generate_step(CHAT, "", SamplingParams(max_tokens=9))
    assert seen[0]["logprobs"] == 1 and step.token_logprobs == [-0.5, -0.25]


def test_the_steps_seed_is_sent_unless_the_spec_says_seed_false():
    params = SamplingParams(max_tokens=9, temperature=0.7, seed=1234)
    for spec, sent in (("m@http://one/v1", 1234), ("m@http://one/v1?seed=false", None)):
        model, seen = scripted_model([httpx.Response(200, text=_sse(_piece("A.\n\n")))], spec=spec)
        model.generate_step(CHAT, "", params)
        assert seen[0].get("seed") == sent and seen[0]["temperature"] == 0.7


# --- rewrite reuse over HTTP: one echo request checks the rejected step -------------------------

PROMPT = "<user>two plus two<assistant>"


def _echo(pieces, tops, values=None, first_value=None, shift_tops=0.0):
    """An echo reply over the prompt (one token) and ``pieces``; ``tops[i]`` is the server's top
    token at piece i, with a generated token after them."""
    tokens = [PROMPT, *pieces, " done"]
    values = [first_value, *(values or [-0.1] * len(pieces)), -0.2]
    top_logprobs = [None, *({t: (v + shift_tops if t == p else -0.05)} for t, p, v in zip(tops, pieces, values[1:])),
                    {" done": -0.2}]
    offsets, at = [], 0
    for token in tokens:
        offsets.append(at)
        at += len(token)
    logprobs = {"tokens": tokens, "token_logprobs": values, "top_logprobs": top_logprobs, "text_offset": offsets}
    return httpx.Response(200, json={"choices": [{"text": "".join(tokens), "logprobs": logprobs}]})


def test_a_rejected_step_is_checked_once_and_the_target_decodes_only_from_where_it_parts():
    proposal = ["So", " 2+2", "=5", ".\n\n"]
    stream = _sse(_piece("=4"), _piece(".\n\n"), _piece(" never read"))
    model, seen = scripted_model([_echo(proposal, ["So", " 2+2", "=4", ".\n\n"]), httpx.Response(200, text=stream)])
    step = model.generate_step(CHAT, "", SamplingParams(max_tokens=50, proposal="".join(proposal)))
    assert (step.text, step.finish_reason, step.generated_tokens) == ("So 2+2=4.\n\n", "step", 4)
    echo, rest = seen
    assert echo["echo"] and echo["logprobs"] == 1 and echo["prompt"] == PROMPT + "So 2+2=5.\n\n"
    assert echo["temperature"] == 0 and echo["max_tokens"] == 1
    assert rest["prompt"] == PROMPT + "So 2+2" and rest["max_tokens"] == 48 and rest["stream"]
    look = step.lookahead
    # The check is a request of its own: it saves one pass less than the tokens it kept.
    assert (look.rewrite_offered, look.rewrite_accepted, look.verify_passes, look.passes_saved) == (4, 2, 1, 1)


def test_a_proposal_the_target_agrees_with_to_its_end_needs_no_second_request():
    proposal = ["So", " 2+2", "=4", ".\n\n"]
    model, seen = scripted_model([_echo(proposal, proposal)])
    step = model.generate_step(CHAT, "", SamplingParams(max_tokens=50, proposal="".join(proposal)))
    assert (step.text, step.finish_reason, step.generated_tokens, len(seen)) == ("So 2+2=4.\n\n", "step", 4, 1)
    assert step.lookahead.rewrite_accepted == 4 and step.lookahead.passes_saved == 3


@pytest.mark.parametrize("reply", [
    _echo(["So", " 2+2"], ["So", " 2+2"], first_value=-1.0),   # llama-cpp-python 0.3.36: shifted one place
    _echo(["So", " 2+2"], ["So", " 2+2"], shift_tops=-2.0),  # entries that disagree with themselves
    httpx.Response(400, json={"error": {"message": "echo is not supported"}}),
])
def test_an_echo_that_cannot_be_trusted_falls_back_to_writing_from_scratch_once_and_for_all(reply, caplog):
    stream = httpx.Response(200, text=_sse(_piece("So 2+2=4.\n\n")))
    model, seen = scripted_model([reply, stream, stream])
    sampling = SamplingParams(max_tokens=50, proposal="So 2+2")
    first = model.generate_step(CHAT, "", sampling)
    second = model.generate_step(CHAT, "", sampling)
    assert first.text == second.text == "So 2+2=4.\n\n" and second.lookahead is None
    if first.lookahead is not None:  # the echo was served: its cost is counted, nothing kept
        assert (first.lookahead.rewrite_accepted, first.lookahead.verify_passes) == (0, 1)
        assert first.prompt_tokens > second.prompt_tokens
    assert [bool(body.get("echo")) for body in seen] == [True, False, False]  # asked once, then never
    assert seen[1]["prompt"] == PROMPT and sum("from scratch" in r.message for r in caplog.records) == 1


def test_a_sampled_rewrite_is_written_from_scratch_a_servers_draw_cannot_be_replayed():
    model, seen = scripted_model([httpx.Response(200, text=_sse(_piece("So 2+2=4.\n\n")))])
    step = model.generate_step(CHAT, "", SamplingParams(max_tokens=50, temperature=0.7, proposal="So 2+2"))
    assert step.lookahead is None and len(seen) == 1 and not seen[0].get("echo")


def test_a_refusal_that_is_not_about_echo_skips_the_check_for_that_step_only():
    stream = httpx.Response(200, text=_sse(_piece("So 2+2=4.\n\n")))
    too_long = httpx.Response(400, json={"error": {"message": "This model's maximum context length is 2048"}})
    model, seen = scripted_model([too_long, stream, _echo(["So"], ["So"]), stream])
    sampling = SamplingParams(max_tokens=50, proposal="So")
    assert model.generate_step(CHAT, "", sampling).lookahead is None
    assert model.generate_step(CHAT, "", sampling).lookahead.rewrite_accepted == 1  # asked again
    assert [bool(body.get("echo")) for body in seen] == [True, False, True, False]



def test_echo_replies_unreadable_three_times_in_a_row_stop_the_asking():
    """An unreadable reply may be one proposal's fault (its tokens need not spell it); three in a row
    are the server's (llama-cpp-python 0.3.36's shifted echo fails that way on every reply)."""
    unreadable = _echo(["So", " 2+2"], ["So", " 2+2"])
    body = _json.loads(unreadable.content)
    body["choices"][0]["logprobs"]["tokens"][1] = "Xo"  # the echoed tokens do not spell the proposal
    unreadable = httpx.Response(200, json=body)
    stream = httpx.Response(200, text=_sse(_piece("So 2+2=4.\n\n")))
    model, seen = scripted_model([unreadable, stream] * 3 + [stream] * 2)
    sampling = SamplingParams(max_tokens=50, proposal="So 2+2")
    steps = [model.generate_step(CHAT, "", sampling) for _ in range(5)]
    assert {s.text for s in steps} == {"So 2+2=4.\n\n"}
    assert [bool(b.get("echo")) for b in seen] == [True, False] * 3 + [False, False]
    assert [s.lookahead is None for s in steps] == [False, False, False, True, True]


def test_a_server_that_ignores_echo_is_asked_once():
    generated_only = httpx.Response(200, json={"choices": [{"text": " done", "logprobs": {
        "tokens": [" done"], "token_logprobs": [None], "top_logprobs": [{" done": -0.2}], "text_offset": [0]}}]})
    stream = httpx.Response(200, text=_sse(_piece("So 2+2=4.\n\n")))
    model, seen = scripted_model([generated_only, stream, stream])
    sampling = SamplingParams(max_tokens=50, proposal="So 2+2")
    model.generate_step(CHAT, "", sampling)
    model.generate_step(CHAT, "", sampling)
    assert [bool(body.get("echo")) for body in seen] == [True, False, False]


# --- SGLang's replies (0.5.23, read from its source; see docs/engines.md) -----------------------

def test_sglangs_end_of_sequence_chunk_with_a_log_probability_is_one_token_not_two():
    usage = {"prompt_tokens": 40, "completion_tokens": 3}
    stream = _sse(_piece("The answer", logprobs={"token_logprobs": [-0.5]}),
                  _piece(" is 4", logprobs={"token_logprobs": [-0.25]}),
                  _piece("", "stop", logprobs={"token_logprobs": [-0.01]}, matched_stop=151645),
                  {"choices": [], "usage": usage})
    model, _ = scripted_model([httpx.Response(200, text=stream)], spec="m@http://one/v1?logprobs=true")
    step = model.generate_step(CHAT, "", SamplingParams(max_tokens=50))
    assert (step.text, step.finish_reason, step.generated_tokens) == ("The answer is 4", "eos", 3)
    assert step.token_logprobs == [-0.5, -0.25]


def test_an_aborted_stream_is_retried_not_taken_for_the_end_of_the_answer():
    aborted = httpx.Response(200, text=_sse(_piece("The ans", "abort")))
    ok = httpx.Response(200, text=_sse(_piece("The answer is 4.\n\n")))
    model, seen = scripted_model([aborted, ok])
    step = model.generate_step(CHAT, "", SamplingParams(max_tokens=50))
    assert (step.text, step.finish_reason, len(seen)) == ("The answer is 4.\n\n", "step", 2)


def test_sglangs_echo_without_text_offsets_is_read_by_token_lengths():
    reply = _echo(["So", " 2+2", "=5"], ["So", " 2+2", "=4"])
    body = _json.loads(reply.content)
    body["choices"][0]["logprobs"]["text_offset"] = [-1] * len(body["choices"][0]["logprobs"]["tokens"])
    stream = httpx.Response(200, text=_sse(_piece("=4.\n\n")))
    model, seen = scripted_model([httpx.Response(200, json=body), stream])
    step = model.generate_step(CHAT, "", SamplingParams(max_tokens=50, proposal="So 2+2=5"))
    assert step.text == "So 2+2=4.\n\n" and step.lookahead.rewrite_accepted == 2
    assert seen[1]["prompt"] == PROMPT + "So 2+2"


def test_llama_servers_chat_shaped_log_probabilities_are_read_too():
    stream = _sse(_piece("The answer", logprobs={"content": [{"token": "The", "logprob": -0.5},
                                                             {"token": " answer", "logprob": -0.25}]}),
                  _piece(" is 4.\n\n", logprobs={"content": [{"token": " is 4.\n\n", "logprob": -0.125}]}))
    model, _ = scripted_model([httpx.Response(200, text=stream)], spec="m@http://one/v1?logprobs=true")
    step = model.generate_step(CHAT, "", SamplingParams(max_tokens=50))
    assert step.text == "The answer is 4.\n\n" and step.generated_tokens == 3
    assert step.token_logprobs == [-0.5, -0.25, -0.125]


def test_llama_servers_per_token_timings_give_the_prompt_cost_of_a_step_closed_early():
    """llama-server says, in each chunk, how much of the prompt its slot's cache held; a step cut at
    the separator closes the stream before any ``usage`` chunk, so that is the only count there is."""
    timings = {"cache_n": 30, "prompt_n": 7, "predicted_n": 1}
    stream = _sse({**_piece("So 4."), "timings": timings},
                  {**_piece("\n\nNext"), "timings": {**timings, "predicted_n": 2}})
    model, seen = scripted_model([httpx.Response(200, text=stream)] * 2)
    model.pool.endpoints[0].owned_by = "llamacpp"  # as its model list says
    step = model.generate_step(CHAT, "", SamplingParams(max_tokens=9))
    assert (step.text, step.prompt_tokens) == ("So 4.\n\n", 7) and seen[0]["timings_per_token"] is True
    model.pool.endpoints[0].owned_by = "vllm"
    model.generate_step(CHAT, "", SamplingParams(max_tokens=9))
    assert "timings_per_token" not in seen[1]  # only llama-server is asked for them


def test_an_echo_refused_with_http_500_is_a_refusal_not_a_failure():
    """Older llama-server builds answer ``echo`` with HTTP 500 "Only no echo is supported": not retried,
    the server kept in, rewrite reuse turned off, and scoring by prompt log-probabilities one clear error."""
    refusal = httpx.Response(500, json={"error": {"code": 500, "message": "Only no echo is supported",
                                                  "type": "server_error"}})
    model, seen = scripted_model([refusal, httpx.Response(200, text=_sse(_piece("Fine.\n\n"))), refusal])
    step = model.generate_step(CHAT, "", SamplingParams(max_tokens=9, proposal="Fine.\n\n"))
    assert step.text == "Fine.\n\n" and len(seen) == 2 and seen[0]["echo"] is True
    assert not model._echo_ok and model.pool.endpoints[0].failures == 0
    with pytest.raises(RemoteEngineError, match="llama-server returns no prompt log-probabilities"):
        model.score_continuation(CHAT, "", "Fine.")
    assert len(seen) == 3
