"""The remote backend's pure logic: specs, retries, balancing, dead endpoints. No server."""

from __future__ import annotations

import random

import pytest

from rewardspec.build import solver_settings
from rewardspec.errors import InvalidInputError
from rewardspec.models.endpoints import EndpointPool, RemoteEngineError, RetryableError, RetryPolicy, session_key
from rewardspec.models.remote import RemoteSpec, role_spec


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
    for bad, needle in [({"model": "m"}, "base_urls"), ({"backend": "vllm", "model": "m", "base_urls": "http://a"},
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
