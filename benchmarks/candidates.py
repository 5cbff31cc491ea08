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

Everything is written to ``--output``/candidates.json. Run it alone (2 cores).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rewardspec.eval.datasets import Example, load_dataset
from rewardspec.eval.records import SampleRecord
from rewardspec.eval.runner import load_config, read_samples, run_eval
from rewardspec.rewards import DEFAULT_REWARD

DEFAULT_CANDIDATES = ";".join([
    f"default={DEFAULT_REWARD}@0.7",
    "head-draft=head:qwen2.5-coder-0.5b@0.5",
    "ratio=ratio:target@0.5",
    f"hybrid={DEFAULT_REWARD}*ratio:target?alpha=2@0.7",
])


def parse_candidates(text: str) -> dict[str, tuple[str, float, str, int]]:
    """``name=REWARD@DELTA[/RULE][+K];…`` -> {name: (reward, δ, rule, escalate_after)}."""
    out: dict[str, tuple[str, float, str, int]] = {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        name, _, rest = part.partition("=")
        reward, _, tail = rest.rpartition("@")
        tail, _, escalate = tail.partition("+")
        delta, _, rule = tail.partition("/")
        try:
            parsed = (reward.strip(), float(delta), rule.strip() or "binary", int(escalate or 0))
        except ValueError:
            parsed = None
        if not name or not reward or parsed is None:
            raise SystemExit(f"bad candidate {part!r}: write NAME=REWARD@DELTA[/RULE][+K]")
        out[name.strip()] = parsed
    return out


def line_gain(acc: float, flops: float, draft: tuple[float, float], target: tuple[float, float]) -> float:
    """Accuracy above the straight line from (F_draft, acc_draft) to (F_target, acc_target)."""
    (fd, ad), (ft, at) = draft, target
    return acc - (ad + (flops - fd) / (ft - fd) * (at - ad))


def paper_flops(usage: dict) -> float:
    lm = sum(2.0 * usage[r]["params"] * usage[r]["generated_tokens"] for r in ("draft", "target") if r in usage)
    reward = usage.get("reward") or {}
    return lm + 2.0 * reward.get("params", 0) * reward.get("calls", 0)


def cascade(draft: dict, target: dict, flagged: dict[str, bool], reward_flops: dict[str, float]) -> dict:
    """Draft first, the target's own solution for the flagged problems; over the problems all three share."""
    ids = [i for i in draft if i in target and i in flagged]
    n = len(ids)
    acc = sum(target[i].correct if flagged[i] else draft[i].correct for i in ids) / n
    cost = {k: sum(getattr(draft[i], k) + reward_flops.get(i, 0.0) + (getattr(target[i], k) if flagged[i] else 0.0)
                   for i in ids) / n for k in ("flops", "flops_with_prompt")}
    paper = sum(paper_flops(draft[i].usage) + (paper_flops(target[i].usage) if flagged[i] else 0.0)
                for i in ids) / n
    wall = sum(draft[i].wall_seconds + (target[i].wall_seconds if flagged[i] else 0.0) for i in ids)
    return {"n": n, "accuracy": acc, "flops": cost["flops"], "flops_with_prompt": cost["flops_with_prompt"],
            "flops_paper": paper, "wall": wall, "kept": 1 - sum(flagged[i] for i in ids) / n}


def summarize(records) -> dict[str, float]:
    n = len(records)
    kept = sum(1 for r in records for s in r.steps if s["source"] == "draft")
    drafted = kept + sum(1 for r in records for s in r.steps if s.get("rejected_draft"))
    return {"n": n, "accuracy": sum(r.correct for r in records) / n,
            "flops": sum(r.flops for r in records) / n,
            "flops_with_prompt": sum(r.flops_with_prompt for r in records) / n,
            "flops_paper": sum(paper_flops(r.usage) for r in records) / n,
            "wall": sum(r.wall_seconds for r in records),
            "kept": kept / drafted if drafted else float("nan")}


def line_table(title: str) -> Table:
    """The side-by-side table every row against the draft–target line goes into."""
    table = Table(title=title)
    for col in ("method", "reward @ δ", "accuracy", "gain (pts)", "FLOPs ÷ target", "+prompt ÷ t",
                "paper ÷ t", "wall ÷ t", "steps kept", "≥90% acc at ≤75% FLOPs"):
        table.add_column(col, justify="left" if col in ("method", "reward @ δ") else "right")
    return table


def add_line_row(table: Table, name: str, described: str, row: dict, base: dict[str, dict],
                 kept: str | None) -> dict:
    """One row: its gain over the line and its ratios to the target; ``kept`` None marks a baseline
    (no kept share, no goal test). Returns the row with those figures, for the JSON."""
    t, d = base["target"], base["draft"]
    gain = line_gain(row["accuracy"], row["flops"], (d["flops"], d["accuracy"]), (t["flops"], t["accuracy"]))
    ratio = {k: row[k] / t[k] for k in ("flops", "flops_with_prompt", "flops_paper", "wall")}
    goal = row["accuracy"] >= 0.9 * t["accuracy"] and ratio["flops"] <= 0.75
    table.add_row(name, described, f"{row['accuracy']:.1%}", f"{100 * gain:+.1f}", f"{ratio['flops']:.2f}x",
                  f"{ratio['flops_with_prompt']:.2f}x", f"{ratio['flops_paper']:.2f}x", f"{ratio['wall']:.2f}x",
                  "-" if kept is None else kept, "-" if kept is None else ("yes" if goal else "no"))
    return {**row, "gain": gain, "ratio_to_target": ratio, "goal_90_75": goal}


def add_problem_arguments(ap: argparse.ArgumentParser, gsm8k_ids: str) -> None:
    """The options that choose the evaluation problems and their settings (shared with step_oracle.py)."""
    ap.add_argument("--dataset", default="gsm8k")
    ap.add_argument("--ids", default=None,
                    help=f"evaluation problems, never the heads' training ones (default for gsm8k: {gsm8k_ids})")
    ap.add_argument("--levels", default=None, help="only problems of these levels, e.g. 1-3 (math500)")
    ap.add_argument("--limit", type=int, default=None, help="the first N problems (after --ids/--levels)")
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--data-dir", default=None)
    ap.set_defaults(gsm8k_ids=gsm8k_ids)


def chosen_problems(args: argparse.Namespace) -> tuple[dict, list[Example]]:
    """The eval settings every run on them shares, and the problems (checked before any model loads)."""
    if args.ids is None and args.levels is None and args.dataset == "gsm8k":
        args.ids = args.gsm8k_ids
    common = {"dataset": args.dataset, "ids": args.ids, "levels": args.levels, "limit": args.limit,
              "max_tokens": args.max_tokens, "data_dir": args.data_dir}
    return common, load_dataset(args.dataset, ids=args.ids, levels=args.levels, limit=args.limit,
                                data_directory=args.data_dir)


def run_baselines(common: dict, directory: Path, wanted: set[str], console: Console) -> dict[str, list[SampleRecord]]:
    """Draft alone and target alone on the problems (run or resumed): their samples."""
    run_eval(load_config(None, {**common, "methods": ["draft", "target"], "output": str(directory)}),
             resume=True, console=console)
    return {m: [r for r in read_samples(directory / f"samples-{m}.jsonl") if r.id in wanted]
            for m in ("draft", "target")}


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
    base = {m: summarize(samples[m]) for m in ("draft", "target")}
    rows = {m: base[m] for m in ("draft", "target")}
    rows.update({name: summarize([r for r in read_samples(out / name / "samples-rsd.jsonl") if r.id in wanted])
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
        described = "-" if spec is None else (f"{spec[0]} @ {spec[1]:g}" + ("" if spec[2] == "binary" else f" /{spec[2]}")
                                               + (f" +{spec[3]}" if spec[3] else ""))
        figures = add_line_row(table, name, described, row, base,
                               None if spec is None else f"{row['kept']:.0%}")
        result["methods"][name] = {**figures, "reward": spec[0] if spec else None,
                                   "delta": spec[1] if spec else None, "rule": spec[2] if spec else None,
                                   "escalate_after": spec[3] if spec else None}
    Console(width=max(160, Console().width)).print(table)
    (out / "candidates.json").write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {out / 'candidates.json'}")


if __name__ == "__main__":
    main()
