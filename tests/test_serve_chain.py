"""Through `rewardspec serve`: a draft step holding a 40-term "2 + 2 + ..." chain is judged by
the default reward, the request completes, and the server keeps answering meanwhile.

The old arithmetic pattern backtracked exponentially on such chains (14 terms: over a
minute) while holding the GIL, which froze every request and /health with it. The
models here are scripted (a real server, real HTTP, the real default reward), so the
test is about the server and the reward, not about what a small model happens to write.
"""

from __future__ import annotations

import threading

import httpx
import pytest

from fakes import CHAIN, scripted_server
from processes import HANG_S, wait_until


@pytest.mark.timeout(120)
def test_a_forty_term_chain_completes_and_the_server_keeps_answering():
    with scripted_server(gate=threading.Event(), max_concurrent_requests=4) as (config, url, draft):
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
