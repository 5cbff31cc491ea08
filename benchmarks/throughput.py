"""Many requests at once: our per-request loop against the reference's lockstep batches.

    .venv/bin/python benchmarks/throughput.py --samples runs/cost/samples-rsd.jsonl [--batch 64]

SIMULATION. This replays recorded RSD runs on a simulated GPU engine; it measures
scheduling, not a model. Each ``samples-rsd.jsonl`` record gives one request's rounds:
the draft step's length, whether it was accepted, and the target step's length where it
was not (``rewardspec eval --methods rsd`` writes these files).

The simulated engines are three, one per role, as in the reference's three servers.
Each runs one batched decode step per tick and gives every active sequence one token;
the tick's length is flat up to 64 sequences (as vLLM's decode step is on a GPU at small
batch) and grows with each further 64. A reward call is one tick of the reward engine.
Defaults: draft 8 ms, target 20 ms, reward 25 ms per tick (``--ticks``).

* **ours**: every request moves on by itself, as ``rewardspec eval --concurrency N`` and
  the server do: a step accepted or rewritten, the request drafts its next step at once,
  and a finished request's place goes to the next one (``--batch`` in flight).
* **lockstep**: the reference's ``get_responses``: each round, every unfinished request
  drafts; when all drafts are done, all are scored; when all scores are in, the rejected
  steps are rewritten; then the next round. Each phase waits for the slowest request, and
  the next batch of ``--batch`` starts when the whole batch has finished.

Printed: requests per simulated second for both, and the ratio (target: ours ≥ 1.5x the
lockstep loop). Writes JSON to ``--output``.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
from dataclasses import dataclass
from pathlib import Path

Round = tuple[int, bool, int, bool]
"""(draft tokens, accepted, target tokens, scored: False for a looping draft rejected unscored)."""


def rounds_of(record: dict) -> list[Round]:
    """One recorded RSD answer as its rounds."""
    rounds = []
    for step in record["steps"]:
        rejected = step.get("rejected_draft")
        if step["source"] == "draft":
            rounds.append((step["generated_tokens"], True, 0, step.get("reward") is not None))
        elif rejected:
            rounds.append((rejected["generated_tokens"], False, step["generated_tokens"],
                           rejected.get("reward") is not None))
        else:
            rounds.append((0, False, step["generated_tokens"], False))
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
        self.done = lambda request, engine: None

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
        draft, accepted, target, scored = traces[r][position[r]]
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", default="runs/cost/samples-rsd.jsonl")
    ap.add_argument("--requests", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64, help="requests in flight (lockstep: the batch size)")
    ap.add_argument("--ticks", default="8,20,25", help="ms per tick: draft, target, reward")
    ap.add_argument("--width", type=int, default=64, help="sequences a tick serves at flat cost")
    ap.add_argument("--output", default="runs/throughput-sim.json")
    args = ap.parse_args()
    path = Path(args.samples)
    if not path.is_file():
        raise SystemExit(f"{path}: no recorded RSD run; make one with `rewardspec eval --methods rsd` "
                         "or benchmarks/cost.py")
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    recorded = [rounds_of(r) for r in records]
    traces = [recorded[i % len(recorded)] for i in range(args.requests)]  # recorded answers, repeated
    # Integer microseconds: ends that coincide stay equal, where float sums of 8 and 25 ms drift apart.
    draft_us, target_us, reward_us = (round(float(x) * 1000) for x in args.ticks.split(","))
    engines = {"draft": Engine(draft_us, args.width), "target": Engine(target_us, args.width),
               "reward": Engine(reward_us, args.width)}
    a_us, b_us = ours(traces, engines, args.batch), lockstep(traces, engines, args.batch)
    if not a_us or not b_us:
        raise SystemExit(f"{path}: the recorded answers hold no steps to replay")
    a, b = a_us / 1e6, b_us / 1e6
    draft, target, reward = draft_us / 1e6, target_us / 1e6, reward_us / 1e6
    result = {"simulation": True, "requests": len(traces), "in_flight": args.batch,
              "recorded_answers": len(recorded),
              "ticks_s": {"draft": draft, "target": target, "reward": reward}, "width": args.width,
              "ours_requests_per_s": len(traces) / a, "lockstep_requests_per_s": len(traces) / b,
              "ratio": b / a}
    print(f"SIMULATED GPU engines (tick flat up to {args.width} sequences; draft {draft * 1e3:g} ms, "
          f"target {target * 1e3:g} ms, reward {reward * 1e3:g} ms), replaying {len(recorded)} recorded "
          f"RSD answers as {len(traces)} requests, {args.batch} in flight:")
    print(f"  ours (per-request)  {result['ours_requests_per_s']:8.2f} requests/s (makespan {a:.1f} s)")
    print(f"  lockstep            {result['lockstep_requests_per_s']:8.2f} requests/s (makespan {b:.1f} s)")
    print(f"  ours ÷ lockstep     {result['ratio']:.2f}x")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
