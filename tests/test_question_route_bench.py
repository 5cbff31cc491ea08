"""benchmarks/question_route.py's arithmetic (rewardspec.analysis.question_routes): a route's
result composed from the recorded runs."""

from __future__ import annotations

import math

import pytest

from rewardspec.analysis.question_routes import route, routed
from rewardspec.eval.records import SampleRecord
from rewardspec.types import DecodeStats, ModelUsage


def record(idx: str, correct: bool, flops: float, wall: float, stats: DecodeStats | None = None) -> SampleRecord:
    """A sample costing ``flops`` (ours) and twice that with prompts."""
    tokens = int(flops / 2)
    usage = {"draft": ModelUsage(params=1, generated_tokens=tokens, prompt_tokens=tokens)}
    return SampleRecord(id=idx, method="x", correct=correct, steps=[], usage=usage, wall_seconds=wall,
                        stats=stats or DecodeStats())


def test_a_route_takes_each_question_from_the_run_it_picks_and_adds_the_read():
    runs = {"draft": {i: record(i, i == "1", 10, 1) for i in "123"},
            "target": {i: record(i, i != "3", 30, 3) for i in "123"},
            "rsd": {i: record(i, True, 20, 2, DecodeStats(drafted=2, accepted=1, rejected=1)) for i in "12"}}
    read = {i: 5 for i in "123"}  # prompt tokens; at params 0.5 a token costs the draft 1 FLOP
    pair = {"draft": runs["draft"], "target": runs["target"]}
    row = routed(pair, {"1": "draft", "2": "target", "3": "target"}, read, 0.5)
    assert row["n"] == 3 and row["accuracy"] == pytest.approx(2 / 3)
    assert row["flops"] == pytest.approx((11 + 31 + 31) / 3)
    # With prompts, the draft's prefill is paid again only where the target then writes.
    assert row["flops_with_prompt"] == pytest.approx((21 + 65 + 65) / 3)
    assert row["flops_paper"] == pytest.approx((10 + 30 + 30) / 3)  # the read is no generated token
    oracle = routed(pair, {"1": "draft", "2": "target", "3": "target"}, None, 0.5)
    assert (oracle["flops"], oracle["flops_with_prompt"]) == pytest.approx(((10 + 30 + 30) / 3, (20 + 60 + 60) / 3))
    assert row["wall"] == pytest.approx(7) and row["routes"] == {"draft": 1, "target": 2}
    assert math.isnan(row["kept"])  # no draft step was judged: the draft alone and the target alone
    # Only problems every run has count; a problem missing from one is left out, not counted as wrong.
    three = routed(runs, {"1": "rsd", "2": "draft", "3": "target"}, read, 0.5)
    assert three["n"] == 2 and three["routes"] == {"draft": 1, "target": 0, "rsd": 1}
    assert three["kept"] == pytest.approx(1 / 2)  # of the draft steps RSD judged, as it counted them
    with pytest.raises(ValueError, match="no problem"):
        routed({"draft": {}}, {"1": "draft"}, read, 0.5)


def test_the_benchmark_routes_as_the_router_does():
    from rewardspec.methods.routing import QuestionRouter
    from test_routing import question_head

    router = QuestionRouter(question_head(), object(), target_below=0.3, draft_above=0.8)
    for value in (0.0, 0.3, 0.5, 0.8, 1.0):
        assert route(value, 0.3, 0.8) == router.route(value)
    assert route(0.99, 0.3, None) == "rsd"
