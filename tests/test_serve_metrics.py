"""GET /metrics: Prometheus's text format, parsed here with prometheus_client's own parser; its
step and token counters equal what the responses to the requests sent said, step by step."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fakes import scripted_server
from processes import HANG_S

pytestmark = pytest.mark.timeout(180)


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    reply = httpx.get(f"{url}/metrics", timeout=HANG_S)  # no API key: scrapers hold none
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(reply.text) for s in family.samples}


def test_metrics_count_what_the_responses_said():
    with scripted_server(api_key="sekret", max_concurrent_requests=2) as (_, url, _):
        headers = {"Authorization": "Bearer sekret"}
        bodies = []
        for i in range(3):
            reply = httpx.post(f"{url}/v1/chat/completions", headers=headers, timeout=HANG_S, json={
                "model": "rsd", "messages": [{"role": "user", "content": f"question {i}"}], "max_tokens": 400})
            assert reply.status_code == 200
            bodies.append(reply.json())
        streamed = httpx.post(f"{url}/v1/chat/completions", headers=headers, timeout=HANG_S, json={
            "model": "rsd", "messages": [{"role": "user", "content": "question s"}], "max_tokens": 400,
            "stream": True})
        assert streamed.status_code == 200 and "[DONE]" in streamed.text
        refused = httpx.post(f"{url}/v1/chat/completions", headers=headers, timeout=HANG_S, json={
            "model": "rsd", "messages": [{"role": "user", "content": "hi"}], "logprobs": True})
        assert refused.status_code == 400
        m = scrape(url)

    def value(name: str, **labels) -> float:
        return m.get((name, tuple(sorted(labels.items()))), 0.0)

    assert value("rewardspec_requests_total", method="rsd", status="200") == 4
    assert value("rewardspec_requests_total", method="none", status="400") == 1
    assert value("rewardspec_requests_running") == 0 and value("rewardspec_requests_waiting") == 0
    assert value("rewardspec_request_duration_seconds_count", method="rsd") == 4
    assert value("rewardspec_time_to_first_token_seconds_count") == 4
    assert value("rewardspec_queue_wait_seconds_count") == 4
    # Steps and tokens: the non-streamed responses' own provenance, plus the streamed choice's
    steps = [s for b in bodies for s in b["rsd"]["steps"]]
    accepted = sum(s["source"] == "draft" and s["reward"] is not None for s in steps)
    rewritten = sum(s.get("rejected_draft") is not None for s in steps)
    per_request = value("rewardspec_steps_total", outcome="accepted") / 4  # the same scripted answer each time
    assert per_request * 3 == accepted and value("rewardspec_steps_total", outcome="rewritten") / 4 * 3 == rewritten
    assert accepted + rewritten > 0
    generated = sum(b["rsd"]["usage"]["draft"]["generated_tokens"] for b in bodies)
    assert value("rewardspec_tokens_total", role="draft", kind="generated") == generated / 3 * 4
    assert value("rewardspec_flops_total", role="draft") == sum(b["rsd"]["usage"]["draft"]["flops"] for b in bodies) / 3 * 4
