"""Through `rewardspec serve`: a draft step holding a 40-term "2 + 2 + ..." chain is judged by
the default reward, the request completes, and the server keeps answering meanwhile.

The old arithmetic pattern backtracked exponentially on such chains (14 terms: over a
minute) while holding the GIL, which froze every request and /health with it. The
models here are scripted (a real server, real HTTP, the real default reward), so the
test is about the server and the reward, not about what a small model happens to write.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from rewardspec.models.base import ContinuationScore
from rewardspec.serve import create_app, parse_config
from rewardspec.serve.scheduling import Engine
from rewardspec.types import Generation

CHAIN = "\\[ \\text{Total cost} = " + " + ".join(["2"] * 40) + " \\]\n\n"


class SlowScriptedModel:
    """Writes the chain step, then the answer; each call takes a while, like a real model."""

    def __init__(self, name: str, delay: float) -> None:
        self.name, self.params, self.delay = name, 1000, delay
        self.calls = 0

    def generate_step(self, messages, response_prefix, sampling):
        self.calls += 1
        time.sleep(self.delay)
        if not response_prefix:
            return Generation(CHAIN, 120, 30, "step", [-0.01] * 120)
        return Generation("So the total is \\boxed{80}.", 10, 5, "eos", [-0.01] * 10)

    def score_continuation(self, messages, response_prefix, continuation):
        return ContinuationScore([-0.01], 1)


@contextmanager
def scripted_server(**settings):
    """A real uvicorn server on a free loopback port, over scripted draft and target models."""
    delay = settings.pop("delay", 0.0)
    models = {name: SlowScriptedModel(name, delay) for name in ("draft-model", "target-model")}
    config = parse_config({"draft": "draft-model", "target": "target-model", **settings})
    app = create_app(config, Engine(config, loader=models.__getitem__))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive()
        time.sleep(0.02)
    try:
        yield config, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(15)


@pytest.mark.timeout(120)
def test_a_forty_term_chain_completes_and_the_server_keeps_answering():
    with scripted_server(delay=0.5, max_concurrent_requests=4) as (config, url):
        assert config.reward == "arithmetic*likelihood-min"  # the default reward, arithmetic check included
        results: dict[str, httpx.Response] = {}

        def ask(key: str, content: str) -> None:
            results[key] = httpx.post(f"{url}/v1/chat/completions", timeout=60, json={
                "model": "rsd", "messages": [{"role": "user", "content": content}], "max_tokens": 400})

        chain_request = threading.Thread(target=ask, args=("chain", "What is the total cost?"))
        chain_request.start()
        # While the chain request is in flight: /health and a second request are answered promptly.
        health_times = []
        other = threading.Thread(target=ask, args=("other", "Another question?"))
        other.start()
        while chain_request.is_alive():
            started = time.monotonic()
            assert httpx.get(f"{url}/health", timeout=10).status_code == 200
            health_times.append(time.monotonic() - started)
            time.sleep(0.05)
        chain_request.join()
        other.join(60)

    assert len(health_times) >= 3 and max(health_times) < 2.0
    for key in ("chain", "other"):
        body = results[key].json()
        assert results[key].status_code == 200, body
        message = body["choices"][0]["message"]["content"]
        assert CHAIN in message and message.endswith("\\boxed{80}.")
        assert body["choices"][0]["rsd"]["finish_reason"] == "eos"
        first = body["rsd"]["steps"][0]
        # The chain has no "= c" to check, so the arithmetic reward has no evidence against it.
        assert first["source"] == "draft" and first["reward"] > 0.7 and first["text"] == CHAIN
