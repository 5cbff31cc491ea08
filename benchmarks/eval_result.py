"""Turn an eval run into a results file: docs/results/NAME.json and its page.

    rewardspec eval --dataset gsm8k --ids 0-99 --methods rsd,target,draft --max-tokens 512 --output runs/gsm8k
    python benchmarks/eval_result.py runs/gsm8k --name gsm8k-0-99 --title "GSM8K 0-99, embedded pair"

Every figure gets its 95% interval: Wilson's for an accuracy and for the share of draft
steps kept, a paired bootstrap over the same problems for each method against the target
(accuracy difference, FLOPs and wall-time ratios). The run's own provenance (summary.json)
is kept; a run from before summaries carried it gets this machine's, with ``--commit`` for
the code that ran and a note that says so. Afterwards ``python -m rewardspec.results render``
updates the README's table.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from rewardspec.eval.metrics import compare, summarize
from rewardspec.eval.runner import read_samples
from rewardspec.provenance import provenance
from rewardspec.results import RESULTS_DIR, figure, write
from rewardspec.uncertainty import wilson


def method_figures(records, target) -> dict:
    m = summarize(records)
    out = {"accuracy": figure(m.accuracy, m.accuracy_ci95)}
    if target is not None and records is not target:
        c = compare(records, target)
        if c is not None:
            out["accuracy_vs_target"] = figure(c.accuracy_difference, c.accuracy_difference_ci95)
            out["flops_vs_target"] = figure(c.flops_ratio, c.flops_ratio_ci95)
            out["wall_vs_target"] = figure(c.wall_ratio, c.wall_ratio_ci95)
    if m.stats.judged:
        out["draft_acceptance"] = figure(m.stats.accepted / m.stats.judged, wilson(m.stats.accepted, m.stats.judged))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--title", required=True)
    parser.add_argument("--problems", help="which problems, as the eval chose them (e.g. 0-99)")
    parser.add_argument("--eval-command", help="the eval command that made the run, if not in its summary")
    parser.add_argument("--commit", help="the commit that ran, if the run's summary does not say")
    parser.add_argument("--note", help="anything a reader must know about this run")
    parser.add_argument("--dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    summary = json.loads((args.run / "summary.json").read_text())
    config = summary["config"]
    records = {p.stem.removeprefix("samples-"): read_samples(p) for p in sorted(args.run.glob("samples-*.jsonl"))}
    target = records.get("target")
    prov, note = summary.get("provenance"), args.note
    if prov is None:
        prov = provenance({r: config[r] for r in ("draft", "target")})
        prov["commit"], prov["dirty"] = args.commit, None
        from datetime import datetime, timezone

        stamp = (args.run / "summary.json").stat().st_mtime
        prov["date"] = datetime.fromtimestamp(stamp, timezone.utc).replace(microsecond=0).isoformat()
        note = ((note + " ") if note else "") + ("Provenance added when this file was written (the run's "
                                                 "summary predates it): machine as here, date of its summary.json.")
    command = args.eval_command or prov.get("command")
    data = {
        "title": args.title,
        "benchmark": "benchmarks/eval_result.py",
        "command": " && ".join(c for c in (command, "python " + shlex.join(sys.argv)) if c),
        "rerun": True,
        **({"note": note} if note else {}),
        "dataset": config["dataset"],
        "problems": args.problems or config.get("ids") or (f"first {config['limit']}" if config.get("limit") else "all"),
        "n": max(len(r) for r in records.values()),
        "config": {k: config[k] for k in ("draft", "target", "reward", "delta", "rule", "max_tokens")},
        "provenance": prov,
        "methods": {name: method_figures(rs, target) for name, rs in records.items()},
    }
    print(f"wrote {write(args.name, data, args.dir)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
