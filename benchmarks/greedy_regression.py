"""Does a change leave greedy results alone? Record them on one checkout, compare with another.

    python benchmarks/greedy_regression.py record before.json --src /old/checkout/src
    python benchmarks/greedy_regression.py record after.json
    python benchmarks/greedy_regression.py compare before.json after.json

``record`` runs rsd, target and draft (the embedded default pair and reward, greedy, 512
tokens: what ``make run`` compares) on the demo's problems and, with ``--gsm8k PATH``, on
the first ``--limit`` GSM8K problems, and keeps each answer's text, steps' sources and
every role's token counts. ``--src`` points at another checkout's ``src`` to record the
code before a change (it must offer ``rewardspec.build.build_solvers``). ``compare``
prints what differs, and exits 1 if anything does. Run it alone: it loads two models.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TOKENS = ("generated_tokens", "prompt_tokens", "discarded_tokens", "scored_tokens", "calls")


def record(out: Path, gsm8k: str | None, limit: int) -> None:
    from rewardspec.build import build_solvers, solver_settings
    from rewardspec.demo import DEMO_PROBLEM, PROBLEMS

    try:
        from rewardspec.methods.base import DecodeConfig
    except ImportError:  # releases before 0.2.0
        from rewardspec.methods.rsd import DecodeConfig
    questions = [p.question for p in (DEMO_PROBLEM, *PROBLEMS)]
    if gsm8k:
        with open(gsm8k) as fh:
            questions += [json.loads(line)["question"] for line in fh][:limit]
    solvers = build_solvers(("rsd", "target", "draft"), solver_settings(), DecodeConfig(max_tokens=512))
    rows = []
    for name, solver in solvers.items():
        for number, question in enumerate(questions):
            trace = solver.solve(question)
            rows.append({"method": name, "question": number, "answer": trace.answer, "text": trace.text,
                         "sources": [s.source for s in trace.steps], "finish": trace.finish_reason,
                         "tokens": {role: {k: getattr(u, k) for k in TOKENS} for role, u in trace.usage.items()}})
            print(f"{name} {number}: {trace.answer}", file=sys.stderr, flush=True)
    out.write_text(json.dumps(rows, indent=1))


def compare(a: Path, b: Path) -> int:
    before, after = json.loads(a.read_text()), json.loads(b.read_text())
    keyed = {(r["method"], r["question"]): r for r in after}
    differ = [(r["method"], r["question"]) for r in before if keyed.get((r["method"], r["question"])) != r]
    print(f"{len(before)} answers recorded before, {len(after)} after; identical (text, sources, ending, "
          f"every role's tokens): {len(before) - len(differ)}; differing: {differ or 'none'}")
    return 1 if differ or len(before) != len(after) else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("out", type=Path)
    rec.add_argument("--src", help="another checkout's src/ to record instead of this one")
    rec.add_argument("--gsm8k", help="a GSM8K JSONL file whose first --limit questions are added")
    rec.add_argument("--limit", type=int, default=10)
    cmp = sub.add_parser("compare")
    cmp.add_argument("before", type=Path)
    cmp.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "compare":
        return compare(args.before, args.after)
    if args.src:
        sys.path.insert(0, str(Path(args.src).resolve()))
    record(args.out, args.gsm8k, args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
