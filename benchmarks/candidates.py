"""Which reward and δ make RSD pay off? Every candidate against the draft–target line, in one run.

    .venv/bin/python benchmarks/candidates.py [--ids 0-99] [--candidates NAME=REWARD@DELTA[/RULE];…]

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

Everything is written to ``--output``/candidates.json. Run it alone (2 cores).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rewardspec.eval.runner import load_config, read_samples, run_eval
from rewardspec.rewards import DEFAULT_REWARD

DEFAULT_CANDIDATES = ";".join([
    f"default={DEFAULT_REWARD}@0.7",
    "head-draft=head:qwen2.5-coder-0.5b@0.5",
    "ratio=ratio:target@0.5",
    f"hybrid={DEFAULT_REWARD}*ratio:target?alpha=2@0.7",
])


def parse_candidates(text: str) -> dict[str, tuple[str, float, str]]:
    """``name=REWARD@DELTA[/RULE];…`` -> {name: (reward, δ, rule)}."""
    out: dict[str, tuple[str, float, str]] = {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        name, _, rest = part.partition("=")
        reward, _, tail = rest.rpartition("@")
        delta, _, rule = tail.partition("/")
        if not name or not reward:
            raise SystemExit(f"bad candidate {part!r}: write NAME=REWARD@DELTA[/RULE]")
        out[name.strip()] = (reward.strip(), float(delta), rule.strip() or "binary")
    return out


def line_gain(acc: float, flops: float, draft: tuple[float, float], target: tuple[float, float]) -> float:
    """Accuracy above the straight line from (F_draft, acc_draft) to (F_target, acc_target)."""
    (fd, ad), (ft, at) = draft, target
    return acc - (ad + (flops - fd) / (ft - fd) * (at - ad))


def paper_flops(usage: dict) -> float:
    lm = sum(2.0 * usage[r]["params"] * usage[r]["generated_tokens"] for r in ("draft", "target") if r in usage)
    reward = usage.get("reward") or {}
    return lm + 2.0 * reward.get("params", 0) * reward.get("calls", 0)


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="gsm8k")
    ap.add_argument("--ids", default="0-99", help="evaluation problems (never the heads' training ones)")
    ap.add_argument("--candidates", default=DEFAULT_CANDIDATES)
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--output", default="runs/candidates")
    args = ap.parse_args()
    candidates = parse_candidates(args.candidates)
    out = Path(args.output)
    console = Console(stderr=True)
    common = {"dataset": args.dataset, "ids": args.ids, "max_tokens": args.max_tokens, "data_dir": args.data_dir}
    run_eval(load_config(None, {**common, "methods": ["draft", "target"], "output": str(out / "baselines")}),
             resume=True, console=console)
    for name, (reward, delta, rule) in candidates.items():
        console.print(f"[bold]{name}[/]: --reward {reward} --delta {delta} --rule {rule}")
        run_eval(load_config(None, {**common, "methods": ["rsd"], "reward": reward, "delta": delta,
                                    "rule": rule, "output": str(out / name)}), resume=True, console=console)

    base = {m: summarize(read_samples(out / "baselines" / f"samples-{m}.jsonl")) for m in ("draft", "target")}
    rows = {m: base[m] for m in ("draft", "target")}
    rows.update({name: summarize(read_samples(out / name / "samples-rsd.jsonl")) for name in candidates})
    t, d = base["target"], base["draft"]
    table = Table(title=f"{args.dataset} {args.ids} ({t['n']} problems, greedy, {args.max_tokens} tokens): "
                        "RSD candidates against the draft–target line")
    for col in ("method", "reward @ δ", "accuracy", "gain (pts)", "FLOPs ÷ target", "+prompt ÷ t",
                "paper ÷ t", "wall ÷ t", "steps kept", "≥90% acc at ≤75% FLOPs"):
        table.add_column(col, justify="left" if col in ("method", "reward @ δ") else "right")
    result = {"dataset": args.dataset, "ids": args.ids, "max_tokens": args.max_tokens, "methods": {}}
    for name, row in rows.items():
        gain = line_gain(row["accuracy"], row["flops"], (d["flops"], d["accuracy"]), (t["flops"], t["accuracy"]))
        ratio = {k: row[k] / t[k] for k in ("flops", "flops_with_prompt", "flops_paper", "wall")}
        goal = row["accuracy"] >= 0.9 * t["accuracy"] and ratio["flops"] <= 0.75
        spec = candidates.get(name)
        table.add_row(name, f"{spec[0]} @ {spec[1]:g}" + ("" if spec[2] == "binary" else f" /{spec[2]}")
                      if spec else "-", f"{row['accuracy']:.1%}", f"{100 * gain:+.1f}",
                      f"{ratio['flops']:.2f}x", f"{ratio['flops_with_prompt']:.2f}x", f"{ratio['flops_paper']:.2f}x",
                      f"{ratio['wall']:.2f}x", "-" if spec is None else f"{row['kept']:.0%}",
                      "-" if spec is None else ("yes" if goal else "no"))
        result["methods"][name] = {**row, "gain": gain, "ratio_to_target": ratio, "goal_90_75": goal,
                                   "reward": spec[0] if spec else None, "delta": spec[1] if spec else None,
                                   "rule": spec[2] if spec else None}
    Console().print(table)
    (out / "candidates.json").write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {out / 'candidates.json'}")


if __name__ == "__main__":
    main()
