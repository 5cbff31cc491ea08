"""Which reward and δ make RSD pay off? Every candidate against the draft–target line, in one run.

    .venv/bin/python benchmarks/candidates.py [--ids 0-99] [--candidates NAME=REWARD@DELTA[/RULE][+K];…]
    .venv/bin/python benchmarks/candidates.py --dataset math500 --levels 1-3 --limit 30 …

(``+K``: escalate after K rejected drafts, the target then writing the rest.)

On evaluation problems only (GSM8K ``idx < 700`` by default; value heads train on ``idx >= 700``),
it runs (or resumes) the draft alone, the target alone and RSD with each candidate, greedy and
with the same settings, each into its own ``rewardspec eval`` directory under ``--output``.
Then it prints, side by side:

* accuracy, and the **gain** over the line from draft to target at equal FLOPs (ours):
  gain = acc_rsd − [acc_draft + (F_rsd − F_draft)/(F_target − F_draft)·(acc_target − acc_draft)];
* FLOPs ÷ target in three conventions: ours (generated and scored tokens), ours with every
  prompt token, and the paper's (generated tokens, one token per reward call at its size);
* the total wall time ÷ target's, and the share of draft steps kept;
* the goal's two tests: accuracy ≥ 90% of the target's at ≤ 75% of its FLOPs (ours).

With ``--cascade runs/…/reward_selection.json`` (``benchmarks/reward_selection.py`` over the
same draft samples) it adds rows that need no new decoding: a **question-level cascade**
per reward and δ, the draft's whole solution first and the target's own solution instead
when the solution's lowest step reward is below δ, costed as draft + reward + target
(flagged ones). Greedy runs repeat, so these rows are what such a cascade would give. The
**oracle** cascade flags exactly the wrong draft solutions: no reward on this draft can do
better at question level.

Everything is written to ``--output``/candidates.json. Run it alone (2 cores). The figures
are :mod:`rewardspec.analysis.draft_target_line`'s; the candidate grammar is
:mod:`rewardspec.analysis.candidate_specs`'s.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from rewardspec.analysis.baselines import add_problem_arguments, chosen_problems, run_baselines
from rewardspec.analysis.candidate_specs import parse_candidates
from rewardspec.analysis.draft_target_line import add_line_row, cascade, line_table, run_row
from rewardspec.eval.runner import load_config, read_samples, run_eval
from rewardspec.rewards import DEFAULT_REWARD

DEFAULT_CANDIDATES = ";".join([
    f"default={DEFAULT_REWARD}@0.7",
    "head-draft=head:qwen2.5-coder-0.5b@0.5",
    "ratio=ratio:target@0.5",
    f"hybrid={DEFAULT_REWARD}*ratio:target?alpha=2@0.7",
])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_problem_arguments(ap, gsm8k_ids="0-99")
    ap.add_argument("--candidates", default=DEFAULT_CANDIDATES)
    ap.add_argument("--output", default="runs/candidates")
    ap.add_argument("--cascade", default=None, metavar="REWARD_SELECTION_JSON",
                    help="add question-level cascade rows from benchmarks/reward_selection.py's output "
                         "over the same draft samples")
    ap.add_argument("--cascade-deltas", default="0.3,0.5,0.7")
    ap.add_argument("--cascade-rewards", default=None,
                    help="comma-separated reward names from that file (default: all)")
    args = ap.parse_args()
    candidates = parse_candidates(args.candidates)
    common, examples = chosen_problems(args)
    wanted = {e.id for e in examples}
    out = Path(args.output)
    console = Console(stderr=True)
    samples = run_baselines(common, out / "baselines", wanted, console)
    for name, (reward, delta, rule, escalate) in candidates.items():
        console.print(f"[bold]{name}[/]: --reward {reward} --delta {delta} --rule {rule} --escalate-after {escalate}")
        run_eval(load_config(None, {**common, "methods": ["rsd"], "reward": reward, "delta": delta,
                                    "rule": rule, "escalate_after": escalate, "output": str(out / name)}),
                 resume=True, console=console)

    chosen = ", ".join(f"{k} {v}" for k, v in (("ids", args.ids), ("levels", args.levels),
                                                 ("first", args.limit)) if v is not None)
    base = {m: run_row(samples[m]) for m in ("draft", "target")}
    rows = {m: base[m] for m in ("draft", "target")}
    rows.update({name: run_row([r for r in read_samples(out / name / "samples-rsd.jsonl") if r.id in wanted])
                 for name in candidates})
    notes: dict[str, str] = {}
    if args.cascade:
        by_id = {m: {r.id: r for r in samples[m]} for m in ("draft", "target")}
        solutions = [s for s in json.loads(Path(args.cascade).read_text())["solutions"] if s.get("id") in wanted]
        rows["oracle cascade"] = cascade(by_id["draft"], by_id["target"],
                                         {s["id"]: not by_id["draft"][s["id"]].correct
                                          for s in solutions if s["id"] in by_id["draft"]}, {})
        notes["oracle cascade"] = "flags exactly the wrong draft solutions"
        specs = sorted({k for s in solutions for k in s["rewards"]})
        if args.cascade_rewards:
            specs = [x for x in specs if x in set(args.cascade_rewards.split(","))]
        for spec in specs:
            for delta in (float(d) for d in args.cascade_deltas.split(",")):
                flagged = {s["id"]: min(s["rewards"][spec]) < delta for s in solutions if s["rewards"].get(spec)}
                spent = {s["id"]: s.get("reward_flops", {}).get(spec, 0.0) for s in solutions}
                name = f"cascade {spec} @ {delta:g}"
                rows[name] = cascade(by_id["draft"], by_id["target"], flagged, spent)
                notes[name] = "question-level, from recorded runs"
    result = {"dataset": args.dataset, "ids": args.ids, "levels": args.levels, "limit": args.limit,
              "problems": sorted(wanted), "max_tokens": args.max_tokens, "methods": {}}
    table = line_table(f"{args.dataset} {chosen} ({base['target']['n']} problems, greedy, {args.max_tokens} "
                       "tokens): RSD candidates against the draft–target line")
    for name, row in rows.items():
        spec = candidates.get(name)
        if name in notes:
            result["methods"][name] = {**add_line_row(table, name, notes[name], row, base,
                                                      f"{row['kept']:.0%} of questions"), "note": notes[name]}
            continue
        described = "-" if spec is None else spec.describe()
        figures = add_line_row(table, name, described, row, base,
                               None if spec is None else f"{row['kept']:.0%}")
        result["methods"][name] = {**figures, "reward": spec.reward if spec else None,
                                   "delta": spec.delta if spec else None, "rule": spec.rule if spec else None,
                                   "escalate_after": spec.escalate_after if spec else None}
    Console(width=max(160, Console().width)).print(table)
    (out / "candidates.json").write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {out / 'candidates.json'}")


if __name__ == "__main__":
    main()
