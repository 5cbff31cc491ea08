"""The simulated engines benchmarks/throughput.py replays traces on (rewardspec.analysis.scheduling_sim)."""

from __future__ import annotations

import pytest

from rewardspec.analysis import scheduling_sim as bench
from rewardspec.eval.records import SampleRecord
from rewardspec.types import RejectedDraft, Step

ENGINES = {"draft": bench.Engine(1.0), "target": bench.Engine(2.0), "reward": bench.Engine(5.0)}


def test_one_request_takes_its_phases_in_turn_under_both_schedules():
    trace = [[(3, True, 0, True), (2, False, 4, True)]]
    # draft 3 ticks, score, draft 2, score, rewrite 4 target ticks: 3 + 5 + 2 + 5 + 8
    assert bench.ours(trace, ENGINES) == pytest.approx(23.0)
    assert bench.lockstep(trace, ENGINES) == pytest.approx(23.0)


def test_lockstep_waits_for_the_slowest_request_in_every_phase():
    traces = [[(10, True, 0, True), (1, True, 0, True)], [(1, True, 0, True), (10, True, 0, True)]]
    assert bench.ours(traces, ENGINES) == pytest.approx(21.0)  # each: 10 + 5 + 1 + 5, overlapped
    assert bench.lockstep(traces, ENGINES) == pytest.approx(30.0)  # 10 + 5, twice


def test_a_tick_is_flat_up_to_the_width_and_grows_past_it():
    one = [[(4, True, 0, False)]]
    assert bench.ours(one * 2, {**ENGINES, "draft": bench.Engine(1.0, width=2)}) == pytest.approx(4.0)
    assert bench.ours(one * 3, {**ENGINES, "draft": bench.Engine(1.0, width=2)}) == pytest.approx(8.0)


def test_unscored_drafts_cost_no_reward_call_and_records_become_rounds():
    steps = [Step("a", "draft", 0.9, 5),
             Step("b", "target", None, 7, RejectedDraft("x", None, 6, degenerate=True)),
             Step("c", "target", None, 3, RejectedDraft("y", 0.1, 2))]
    record = SampleRecord(id="0", method="rsd", correct=True, steps=steps, usage={}, wall_seconds=1.0)
    rounds = bench.rounds_of(record)
    assert rounds == [(5, True, 0, True), (6, False, 7, False), (2, False, 3, True)]
    assert bench.ours([rounds], ENGINES) == pytest.approx(5 + 5 + 6 + 14 + 2 + 5 + 6)


def test_a_finished_request_hands_its_place_to_the_next_and_lockstep_goes_batch_by_batch():
    short, long = [(1, True, 0, False)], [(10, True, 0, False)]
    traces = [long, short, short, short]
    # Two in flight: the long one holds a place for 10 ticks while three short ones pass the other.
    assert bench.ours(traces, ENGINES, in_flight=2) == pytest.approx(10.0)
    assert bench.lockstep(traces, ENGINES, batch=2) == pytest.approx(11.0)  # 10, then 1
