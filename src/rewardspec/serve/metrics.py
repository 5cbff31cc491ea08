"""``GET /metrics``: the server in Prometheus's text format, through prometheus_client.

Named as Prometheus asks (a ``rewardspec_`` prefix, ``_total`` counters, ``_seconds``
histograms). Token, FLOPs and step counts are read off each finished choice's typed record
(its :class:`~rewardspec.types.Trace`: usage per role and the decode statistics the method
counted while it decided), never counted a second time beside it; requests in flight and
waiting are read from the engine when scraped. One registry per server, so that several
servers in one process (the tests) keep their own.
"""

from __future__ import annotations

from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from rewardspec.types import Trace

__all__ = ["CONTENT_TYPE_LATEST", "ServeMetrics"]

# A reasoning answer takes seconds to minutes; waiting in line, up to queue_timeout.
_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320, 640, 1280)
_TOKEN_KINDS = ("generated", "prompt", "discarded", "scored")


class ServeMetrics:
    def __init__(self, running: Callable[[], int], waiting: Callable[[], int]) -> None:
        self.registry = registry = CollectorRegistry()
        self.requests = Counter("rewardspec_requests", "Requests answered, by method and HTTP status.",
                                ["method", "status"], registry=registry)
        Gauge("rewardspec_requests_running", "Requests decoding now.", registry=registry).set_function(running)
        Gauge("rewardspec_requests_waiting", "Requests waiting in line for a decoding slot.",
              registry=registry).set_function(waiting)
        self.queue_wait = Histogram("rewardspec_queue_wait_seconds", "Time a request waited for a decoding slot.",
                                    buckets=_LATENCY_BUCKETS, registry=registry)
        self.first_token = Histogram("rewardspec_time_to_first_token_seconds",
                                     "Time from a request's arrival to its first decided step.",
                                     buckets=_LATENCY_BUCKETS, registry=registry)
        self.latency = Histogram("rewardspec_request_duration_seconds",
                                 "Time from a request's arrival to its last byte, by method.", ["method"],
                                 buckets=_LATENCY_BUCKETS, registry=registry)
        self.tokens = Counter("rewardspec_tokens", "Tokens of finished choices, by role and kind "
                              "(generated, prompt, discarded, scored).", ["role", "kind"], registry=registry)
        self.flops = Counter("rewardspec_flops", "FLOPs of finished choices, by role (2 x params x generated "
                             "and scored tokens).", ["role"], registry=registry)
        self.steps = Counter("rewardspec_steps", "Draft steps of finished choices, by outcome: drafted (a target "
                             "could have written instead), accepted (judged and kept), rewritten by the target.",
                             ["outcome"], registry=registry)
        self.proposal_tokens = Counter("rewardspec_proposal_tokens", "Tokens checked from proposals (rewrite "
                                       "reuse, prompt lookup), by role and whether they were kept.",
                                       ["role", "kept"], registry=registry)

    def record_choice(self, trace: Trace) -> None:
        """One finished choice, from its record."""
        for role, usage in trace.usage.items():
            for kind in _TOKEN_KINDS:
                self.tokens.labels(role, kind).inc(getattr(usage, f"{kind}_tokens"))
            self.flops.labels(role).inc(usage.flops)
            self.proposal_tokens.labels(role, "yes").inc(usage.lookahead.accepted)
            self.proposal_tokens.labels(role, "no").inc(usage.lookahead.wasted)
        stats = trace.stats
        for outcome, n in (("drafted", stats.drafted), ("accepted", stats.accepted), ("rewritten", stats.rewritten)):
            self.steps.labels(outcome).inc(n)

    def record_request(self, method: str, status: int, seconds: float | None = None) -> None:
        self.requests.labels(method or "none", str(status)).inc()
        if seconds is not None:
            self.latency.labels(method or "none").observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
