"""The waiting line: requests beyond max_concurrent_requests wait their turn, first come first
served, instead of a 429 at once; only past the line's length or its timeout does a client get
429, with a Retry-After worked out from the line; a client that leaves while waiting frees its
place. Scripted models behind a real uvicorn server, held at a gate so the line can be watched."""

from __future__ import annotations

import threading

import httpx
import pytest

from fakes import scripted_server
from processes import HANG_S, wait_until

pytestmark = pytest.mark.timeout(180)


def ask(url: str, results: dict, key, timeout: float = HANG_S) -> None:
    try:
        results[key] = httpx.post(f"{url}/v1/chat/completions", timeout=timeout, json={
            "model": "rsd", "messages": [{"role": "user", "content": f"question {key}"}], "max_tokens": 400})
    except httpx.TimeoutException as exc:
        results[key] = exc


def health(url: str) -> dict:
    return httpx.get(f"{url}/health", timeout=HANG_S).json()


def started(url, results, keys, **kw) -> list[threading.Thread]:
    threads = [threading.Thread(target=ask, args=(url, results, key), kwargs=kw) for key in keys]
    for t in threads:
        t.start()
    return threads


def test_sixteen_requests_against_two_slots_all_answered_in_turn():
    with scripted_server(gate=threading.Event(), max_concurrent_requests=2) as (_, url, draft):
        results: dict = {}
        threads = started(url, results, range(16))
        wait_until(lambda: len(draft.waiting) == 2 and health(url)["waiting"] == 14,
                   "two requests decoding, fourteen waiting", alive=lambda: any(t.is_alive() for t in threads))
        state = health(url)
        assert (state["in_flight"], state["max_concurrent_requests"], state["max_queued_requests"]) == (2, 2, 256)
        draft.gate.set()
        for t in threads:
            t.join(HANG_S)
        assert sorted(r.status_code for r in results.values()) == [200] * 16
        assert health(url)["waiting"] == 0 and health(url)["in_flight"] == 0


def test_a_burst_longer_than_the_line_gets_429_with_retry_after():
    with scripted_server(gate=threading.Event(), max_concurrent_requests=1, max_queued_requests=2) as (_, url, draft):
        results: dict = {}
        threads = started(url, results, ["a", "b", "c"])
        wait_until(lambda: len(draft.waiting) == 1 and health(url)["waiting"] == 2, "one decoding, two waiting")
        ask(url, results, "d")
        refused = results["d"]
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        error = refused.json()["error"]
        assert error["code"] == "too_many_concurrent_requests" and "max_queued_requests" in error["message"]
        draft.gate.set()
        for t in threads:
            t.join(HANG_S)
        assert [results[k].status_code for k in "abc"] == [200, 200, 200]


def test_a_request_that_waits_past_the_queue_timeout_gets_429():
    with scripted_server(gate=threading.Event(), max_concurrent_requests=1, queue_timeout=0.5) as (_, url, draft):
        results: dict = {}
        threads = started(url, results, ["a"])
        wait_until(lambda: len(draft.waiting) == 1, "the first request decoding")
        ask(url, results, "b")
        assert results["b"].status_code == 429 and "queue_timeout" in results["b"].json()["error"]["message"]
        assert health(url)["waiting"] == 0
        draft.gate.set()
        threads[0].join(HANG_S)
        assert results["a"].status_code == 200


def test_a_client_that_leaves_while_waiting_frees_its_place_at_once():
    with scripted_server(gate=threading.Event(), max_concurrent_requests=1, max_queued_requests=1) as (_, url, draft):
        results: dict = {}
        threads = started(url, results, ["a"])
        wait_until(lambda: len(draft.waiting) == 1, "the first request decoding")
        leaver = started(url, results, ["gone"], timeout=1.5)[0]
        wait_until(lambda: health(url)["waiting"] == 1, "the second request waiting")
        leaver.join(HANG_S)
        assert isinstance(results["gone"], httpx.TimeoutException)  # the client gave up and closed
        wait_until(lambda: health(url)["waiting"] == 0, "the place of a client that left was not freed")
        threads += started(url, results, ["c"])  # the line has room again
        wait_until(lambda: health(url)["waiting"] == 1, "the third request waiting")
        draft.gate.set()
        for t in threads:
            t.join(HANG_S)
        assert results["a"].status_code == 200 and results["c"].status_code == 200
        assert len(draft.waiting) == 2  # the request that left never reached the model: only a and c did
