"""Many requests at once: our per-request loop against the reference's lockstep batches.

    .venv/bin/python benchmarks/throughput.py --samples runs/cost/samples-rsd.jsonl [--batch 64]

SIMULATION. This replays recorded RSD runs on a simulated GPU engine; it measures
scheduling, not a model. Each ``samples-rsd.jsonl`` record gives one request's rounds:
the draft step's length, whether it was accepted, and the target step's length where it
was not (``rewardspec eval --methods rsd`` writes these files). The simulation itself is
:mod:`rewardspec.analysis.scheduling_sim`.

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
import json
from pathlib import Path

from rewardspec.analysis.scheduling_sim import Engine, lockstep, ours, rounds_of
from rewardspec.eval.runner import read_samples


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
    recorded = [rounds_of(r) for r in read_samples(path)]
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
