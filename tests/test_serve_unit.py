"""The pieces of `rewardspec serve` that need no HTTP: the fair lock, request-private
KV caches, and the config file."""

from __future__ import annotations

import json
import threading

import pytest

from rewardspec.models.base import SamplingParams
from rewardspec.prompts import build_messages
from rewardspec.serve.locks import (
    FairLock,
    ModelLock,
    RequestCancelled,
    RequestScope,
    install_model_lock,
    request_scope,
)
from rewardspec.serve.config import ConfigError, ServeConfig, load_config, parse_config

from processes import HANG_S, wait_until


# -- the fair lock -----------------------------------------------------------------
def test_fair_lock_serves_waiters_in_arrival_order():
    lock = FairLock()
    order: list[int] = []
    lock.acquire()

    def worker(i: int) -> None:
        with lock:
            order.append(i)

    threads = []
    for i in range(8):
        t = threading.Thread(target=worker, args=(i,))
        t.start()
        threads.append(t)
        wait_until(lambda i=i: lock.queued == i + 1, f"waiter {i} never queued")  # i+1 waiters, in this order
    lock.release()
    for t in threads:
        t.join(5)
    assert order == list(range(8))
    assert not lock.locked() and lock.queued == 0


def test_a_cancelled_request_leaves_the_queue_at_once():
    lock = ModelLock()
    lock.acquire()
    scope = RequestScope("waiting")
    outcome: list[str] = []

    def waiter() -> None:
        with request_scope(scope):
            try:
                with lock:
                    outcome.append("ran")
            except RequestCancelled:
                outcome.append("cancelled")

    t = threading.Thread(target=waiter)
    t.start()
    wait_until(lambda: lock.queued == 1, "the waiter never queued")
    scope.cancel()
    t.join(HANG_S)
    # At once: it left while the lock was still held, without waiting for its turn.
    assert not t.is_alive() and outcome == ["cancelled"] and lock.locked()
    assert lock.queued == 0
    lock.release()
    with lock:  # still usable
        pass
    assert not lock.locked()


def test_a_cancelled_request_makes_no_further_model_call():
    lock = ModelLock()
    scope = RequestScope("gone")
    scope.cancel()
    with request_scope(scope), pytest.raises(RequestCancelled):
        with lock:
            pass
    assert not lock.locked()


def test_other_backends_get_the_fair_lock_without_kv_swapping():
    class Backend:  # like the transformers backend or a PRM: a _lock, no llama.cpp context
        def __init__(self):
            self._lock = threading.Lock()

    backend = Backend()
    assert install_model_lock(backend, isolate=True)
    assert isinstance(backend._lock, ModelLock) and backend._lock.swapper is None
    assert install_model_lock(object()) is False


# -- request-private KV cache ------------------------------------------------------
@pytest.fixture(scope="module")
def tiny():
    from rewardspec.models import load_model

    model = load_model("tiny", n_ctx=1024, n_threads=1)
    install_model_lock(model, isolate=True)
    import llama_cpp  # prompt batches on one thread too (see test_serve.single_thread_batches)

    llama_cpp.llama_set_n_threads(model.llm._ctx.ctx, 1, 1)
    return model


@pytest.mark.models
def test_interleaved_requests_get_the_logits_they_would_get_alone(tiny):
    """Two requests alternating on one model give bit-identical log-probabilities to
    each running alone (without isolation, a step evaluated on a cached prefix and the
    same text evaluated in one batch differ in the last bits)."""
    sp = SamplingParams(max_tokens=10)
    questions = ["What is 12 times 7?", "Name a prime number larger than 10."]

    def run_alone(q):
        with request_scope(RequestScope(q)):
            first = tiny.generate_step(build_messages(q), "", sp)
            second = tiny.generate_step(build_messages(q), first.text, sp)
        return [first.token_logprobs, second.token_logprobs], first.text

    alone = [run_alone(q) for q in questions]
    scopes = [RequestScope(q) for q in questions]
    firsts = []
    for scope, q in zip(scopes, questions):
        with _as_current(scope):
            firsts.append(tiny.generate_step(build_messages(q), "", sp))
    seconds = []
    for scope, q, first in zip(scopes, questions, firsts):
        with _as_current(scope):
            seconds.append(tiny.generate_step(build_messages(q), first.text, sp))
    for (expected, text), first, second in zip(alone, firsts, seconds):
        assert first.text == text
        assert [first.token_logprobs, second.token_logprobs] == expected
    # A request resumes on its own cached prefix: only the new tokens are evaluated.
    assert all(s.prompt_tokens <= tiny.count_tokens(f.text) + 2 for f, s in zip(firsts, seconds))


class _as_current:
    """Make ``scope`` current without closing it on exit (it is resumed later)."""

    def __init__(self, scope):
        self.scope = scope

    def __enter__(self):
        from rewardspec.serve.locks import _CURRENT

        self.token = _CURRENT.set(self.scope)

    def __exit__(self, *exc):
        from rewardspec.serve.locks import _CURRENT

        _CURRENT.reset(self.token)


# -- the config file ---------------------------------------------------------------
def test_config_defaults_run_rsd_on_the_embedded_models():
    cfg = ServeConfig()
    assert (cfg.draft, cfg.target, cfg.host) == ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b",
                                                 "127.0.0.1")
    assert cfg.model_ids() == {"rsd": None, "rsd-target": "target", "rsd-draft": "draft"}


def test_config_from_yaml_and_json(tmp_path):
    yaml_file = tmp_path / "serve.yaml"
    yaml_file.write_text("draft: tiny\ntarget: tiny\nreward: likelihood\ndelta: 0.5\n"
                         "max_concurrent_requests: 3\nmethods: [rsd, draft]\nmodel_id: math\n")
    cfg = load_config(yaml_file)
    assert (cfg.delta, cfg.max_concurrent_requests) == (0.5, 3)
    assert cfg.model_ids() == {"math": None, "math-draft": "draft"}
    json_file = tmp_path / "serve.json"
    json_file.write_text(json.dumps({"draft": "tiny", "max_tokens": 64, "default_max_tokens": 32}))
    assert load_config(json_file).max_tokens == 64


@pytest.mark.parametrize("text, words", [
    ("delta: 1.5\n", ["delta", "in [0, 1]", "got 1.5"]),
    ("dleta: 0.5\n", ["dleta", "Extra inputs"]),
    ("max_tokens: 10\ndefault_max_tokens: 20\n", ["default_max_tokens (20) exceeds"]),
    ("methods: [draft]\n", ["default_method 'rsd'"]),
    ("rule: fuzzy\n", ["unknown acceptance rule 'fuzzy'"]),
    ("methods: [rsd, sd]\ntemperature: 0.7\n", ["method 'sd' decodes greedily", "temperature: 0"]),
    ("- just\n- a list\n", ["expected a mapping"]),
    ("delta: [unclosed\n", ["not valid YAML"]),
])
def test_bad_configs_name_the_problem(tmp_path, text, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    for word in words:
        assert word in str(err.value)
    assert "\n" not in str(err.value).strip()


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the server config"):
        load_config(tmp_path / "absent.yaml")
    assert parse_config(None) == ServeConfig()


def test_a_request_decodes_under_the_servers_shared_decode_settings_and_its_own_overrides():
    from rewardspec.serve.app import plan_request
    from rewardspec.serve.schemas import ChatCompletionRequest

    config = parse_config({"temperature": 0.5, "top_p": 0.8, "max_steps": 7, "separator": "\n", "seed": 11})
    chat = [{"role": "user", "content": "hi"}]
    plan = plan_request(config, ChatCompletionRequest(model="rsd", messages=chat), [chat], None)
    d = plan.decode
    assert (d.temperature, d.top_p, d.max_steps, d.separator, d.seed) == (0.5, 0.8, 7, "\n", 11)
    assert d.max_total_tokens == config.total_token_multiple * config.default_max_tokens
    asked = ChatCompletionRequest(model="rsd", messages=chat, temperature=0.0, seed=3)
    d = plan_request(config, asked, [chat], 5).decode
    assert (d.temperature, d.top_p, d.seed, d.max_tokens) == (0.0, 0.8, 3, 5)
    # Without a seed in the config or the request, each request gets a fresh one.
    fresh = parse_config({})
    seeds = {plan_request(fresh, ChatCompletionRequest(model="rsd", messages=chat), [chat], None).decode.seed
             for _ in range(5)}
    assert len(seeds) > 1
