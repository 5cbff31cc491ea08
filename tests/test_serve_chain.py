"""Through `rewardspec serve`: a draft step holding a 40-term "2 + 2 + ..." chain is judged by
the default reward, the request completes, and the server keeps answering meanwhile.

The old arithmetic pattern backtracked exponentially on such chains (14 terms: over a
minute) while holding the GIL, which froze every request and /health with it. The
models here are scripted (a real server, real HTTP, the real default reward), so the
test is about the server and the reward, not about what a small model happens to write.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import httpx
import pytest

from rewardspec.models.base import ContinuationScore
from rewardspec.serve import create_app, parse_config
from rewardspec.serve.scheduling import Engine
from rewardspec.types import Generation

from processes import HANG_S, serve_app, wait_until

CHAIN = "\\[ \\text{Total cost} = " + " + ".join(["2"] * 40) + " \\]\n\n"


class ChainModel:
    """Writes the chain step, then the answer. Before the answer it waits at ``gate``, so a
    request whose chain step has been judged stays in flight until the test lets it go."""

    def __init__(self, name: str, gate: threading.Event) -> None:
        self.name, self.params, self.gate = name, 1000, gate
        self.waiting: list[str] = []  # calls at the gate: their chain step was generated and judged

    def generate_step(self, messages, response_prefix, sampling):
        if not response_prefix:
            return Generation(CHAIN, 120, 30, "step", [-0.01] * 120)
        self.waiting.append(response_prefix)
        assert self.gate.wait(HANG_S), "the test never opened the gate"
        return Generation("So the total is \\boxed{80}.", 10, 5, "eos", [-0.01] * 10)

    def score_continuation(self, messages, response_prefix, continuation):
        return ContinuationScore([-0.01], 1)


@contextmanager
def scripted_server(**settings):
    """A real uvicorn server on a free loopback port, over scripted draft and target models."""
    gate = threading.Event()
    models = {name: ChainModel(name, gate) for name in ("draft-model", "target-model")}
    config = parse_config({"draft": "draft-model", "target": "target-model", **settings})
    app = create_app(config, Engine(config, loader=models.__getitem__))
    try:
        with serve_app(app) as url:
            yield config, url, models["draft-model"]
    finally:
        gate.set()


@pytest.mark.timeout(120)
def test_a_forty_term_chain_completes_and_the_server_keeps_answering():
    with scripted_server(max_concurrent_requests=4) as (config, url, draft):
        assert config.reward == "arithmetic*likelihood-min"  # the default reward, arithmetic check included
        results: dict[str, httpx.Response] = {}

        def ask(key: str, content: str) -> None:
            results[key] = httpx.post(f"{url}/v1/chat/completions", timeout=HANG_S, json={
                "model": "rsd", "messages": [{"role": "user", "content": content}], "max_tokens": 400})

        requests = [threading.Thread(target=ask, args=(key, f"{key}: what is the total cost?"))
                    for key in ("chain", "other")]
        for request in requests:
            request.start()
        # Both chain steps judged by the real reward; both requests now wait at the gate, in flight.
        wait_until(lambda: len(draft.waiting) == 2, "the chain steps were not judged",
                   alive=lambda: all(r.is_alive() for r in requests))
        for _ in range(3):
            assert httpx.get(f"{url}/health", timeout=HANG_S).status_code == 200
        assert all(r.is_alive() for r in requests) and not draft.gate.is_set()  # answered meanwhile
        draft.gate.set()
        for request in requests:
            request.join(HANG_S)
        assert not any(r.is_alive() for r in requests)

    for key in ("chain", "other"):
        body = results[key].json()
        assert results[key].status_code == 200, body
        message = body["choices"][0]["message"]["content"]
        assert CHAIN in message and message.endswith("\\boxed{80}.")
        assert body["choices"][0]["rsd"]["finish_reason"] == "eos"
        first = body["rsd"]["steps"][0]
        # The chain has no "= c" to check, so the arithmetic reward has no evidence against it.
        assert first["source"] == "draft" and first["reward"] > 0.7 and first["text"] == CHAIN
