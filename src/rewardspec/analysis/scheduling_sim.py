"""Recorded RSD answers replayed on simulated batched engines: per request against lockstep.

SIMULATION: it measures scheduling, not a model. Each recorded answer gives one request's
rounds (:func:`rounds_of`). The engines are three, one per role, as in the reference's three
servers; each runs one batched decode step per tick and gives every active sequence one
token, and a tick is flat up to ``width`` sequences (as vLLM's decode step is on a GPU at
small batch) and grows with each further ``width``. A reward call is one tick of the reward
engine. :func:`ours` lets every request move on by itself, as ``rewardspec eval
--concurrency N`` and the server do; :func:`lockstep` is the reference's ``get_responses``,
each phase of a round waiting for the whole batch. ``benchmarks/throughput.py`` prints both.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass

from rewardspec.eval.records import SampleRecord

Round = tuple[int, bool, int, bool]
"""(draft tokens, accepted, target tokens, scored: False for a looping draft rejected unscored)."""


def rounds_of(record: SampleRecord) -> list[Round]:
    """One recorded RSD answer as its rounds: a kept draft step is one round, a rewritten one
    carries the draft's spent tokens and the target's rewrite, and a target step with no draft
    behind it (escalated or routed) is a rewrite of nothing."""
    rounds: list[Round] = []
    for step in record.steps:
        rejected = step.rejected_draft
        if step.source == "draft":
            rounds.append((step.generated_tokens, True, 0, step.reward is not None))
        elif rejected is not None:
            rounds.append((rejected.generated_tokens, False, step.generated_tokens, rejected.reward is not None))
        else:
            rounds.append((0, False, step.generated_tokens, False))
    return rounds


@dataclass
class Engine:
    """A batched engine: one tick gives each active sequence a token; flat up to ``width``."""

    tick: float
    width: int = 64

    def step_time(self, active: int) -> float:
        return self.tick * max(1, math.ceil(active / self.width))


class Simulation:
    """Discrete events: jobs (request, tokens) on engines; a job's end calls ``done``.

    A tick serves the sequences active when it starts; one that arrives during a tick
    joins the next. Ends are handled before starts at the same instant, so requests
    that finish together all join the tick that follows.
    """

    END, START = 0, 1

    def __init__(self, engines: dict[str, Engine]) -> None:
        self.engines = engines
        self.now = 0.0
        self.active: dict[str, dict[int, int]] = {name: {} for name in engines}
        self.serving: dict[str, list[int] | None] = {name: None for name in engines}
        self.pending_start: set[str] = set()
        self.events: list[tuple[float, int, int, str]] = []
        self._seq = 0
        self.done: Callable[[int, str], None] = lambda request, engine: None

    def _push(self, at: float, kind: int, engine: str) -> None:
        self._seq += 1
        heapq.heappush(self.events, (at, kind, self._seq, engine))

    def submit(self, engine: str, request: int, tokens: int) -> None:
        if tokens <= 0:
            self.done(request, engine)
            return
        self.active[engine][request] = tokens
        if self.serving[engine] is None and engine not in self.pending_start:
            self.pending_start.add(engine)
            self._push(self.now, self.START, engine)

    def run(self) -> float:
        while self.events:
            self.now, kind, _, engine = heapq.heappop(self.events)
            if kind == self.START:
                self.pending_start.discard(engine)
                batch = list(self.active[engine])
                self.serving[engine] = batch
                self._push(self.now + self.engines[engine].step_time(len(batch)), self.END, engine)
                continue
            finished = []
            for request in self.serving[engine] or []:
                self.active[engine][request] -= 1
                if self.active[engine][request] == 0:
                    del self.active[engine][request]
                    finished.append(request)
            self.serving[engine] = None
            for request in finished:
                self.done(request, engine)
            if self.active[engine] and engine not in self.pending_start:
                self.pending_start.add(engine)
                self._push(self.now, self.START, engine)
        return self.now


def ours(traces: list[list[Round]], engines: dict[str, Engine], in_flight: int | None = None) -> float:
    """Makespan when each request moves on by itself, ``in_flight`` at a time (a finished
    request's place goes to the next waiting one at once, as in the server)."""
    sim = Simulation(engines)
    position = [0] * len(traces)
    waiting = list(range(len(traces)))[::-1]

    def admit() -> None:
        if waiting:
            start_round(waiting.pop())

    def start_round(r: int) -> None:
        if position[r] < len(traces[r]):
            sim.submit("draft", r, traces[r][position[r]][0])
        else:
            admit()

    def done(r: int, engine: str) -> None:
        _, accepted, target, scored = traces[r][position[r]]
        if engine == "draft":
            sim.submit("reward", r, 1 if scored else 0)
        elif engine == "reward" and not accepted:
            sim.submit("target", r, target)
        else:
            position[r] += 1
            start_round(r)

    sim.done = done
    for _ in range(min(len(traces), in_flight or len(traces))):
        admit()
    return sim.run()


def lockstep(traces: list[list[Round]], engines: dict[str, Engine], batch: int | None = None) -> float:
    """Makespan when every phase of a round waits for the whole batch, batch after batch."""
    batch = batch or len(traces)
    total = 0.0
    for first in range(0, len(traces), batch):
        total += _lockstep_batch(traces[first:first + batch], engines)
    return total


def _lockstep_batch(traces: list[list[Round]], engines: dict[str, Engine]) -> float:
    sim = Simulation(engines)
    position = [0] * len(traces)
    waiting: set[int] = set()
    phase = {"name": ""}

    def barrier_passed() -> None:
        live = [r for r in range(len(traces)) if position[r] < len(traces[r])]
        if phase["name"] == "draft":
            phase["name"] = "reward"
            targets = [(r, 1 if traces[r][position[r]][3] else 0) for r in live]
        elif phase["name"] == "reward":
            phase["name"] = "target"
            targets = [(r, 0 if traces[r][position[r]][1] else traces[r][position[r]][2]) for r in live]
        else:
            for r in live:
                position[r] += 1
            live = [r for r in live if position[r] < len(traces[r])]
            phase["name"] = "draft"
            targets = [(r, traces[r][position[r]][0]) for r in live]
        if not live:
            return
        waiting.update(r for r, _ in targets)
        for r, tokens in targets:
            sim.submit(phase["name"], r, tokens)

    def done(r: int, engine: str) -> None:
        waiting.discard(r)
        if not waiting:
            barrier_passed()

    sim.done = done
    phase["name"] = "target"  # so that the first barrier starts round 0's drafts
    position[:] = [-1] * len(traces)
    barrier_passed()
    return sim.run()
