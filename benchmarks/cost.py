"""What RSD costs against the target alone, the draft alone and token-level SD, in one run.

    .venv/bin/python benchmarks/cost.py [--limit 100] [--methods rsd,target,draft,sd] [--label-rejections]

Runs (or resumes) ``rewardspec eval`` on GSM8K for each method into ``--output``, then
prints, side by side:

* accuracy;
* FLOPs per question in three conventions, and each as a ratio to the target's:
  ours (generated and scored tokens), ours with every prompt token, and the paper's
  (draft and target generated tokens, one token per reward call at the reward's size);
* the wall time per question (median) and the ratio of total wall time to the target's;
* where the time went, as shares of the wall time: draft prefill and decode, target
  prefill (for RSD mostly the draft steps it has not seen) and decode, reward calls,
  and everything outside model and reward calls.

With ``--label-rejections`` it checks the reward against an outside judgement: every
rejected draft step, and as many accepted ones, is continued by the target (greedy)
from the prefix ending with that step; a step counts as *wrong* when that
continuation's final answer is wrong (Math-Shepherd's completion labels, one rollout).

Data: ``--data-dir`` or ``$REWARDSPEC_DATA`` (default ../shared/data). Run it alone:
two model processes on 2 cores slow each other badly.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from rewardspec.analysis.draft_target_line import kept_share
from rewardspec.eval.records import SampleRecord
from rewardspec.eval.runner import load_config, read_samples, run_eval
from rewardspec.grading import is_correct
from rewardspec.models import load_model
from rewardspec.models.base import SamplingParams
from rewardspec.prompts import build_messages, format_question
from rewardspec.rewards import DEFAULT_REWARD
from rewardspec.types import flops_paper

PHASES = ("draft prefill", "draft decode", "target prefill", "target decode", "reward", "outside")


def phases(record: SampleRecord) -> dict[str, float]:
    """Seconds per phase of one answer (the roles' call timers; SD reports only its total)."""
    usage, out = record.usage, {}
    for role in ("draft", "target"):
        prefill = usage[role].prefill_seconds
        out[f"{role} prefill"] = prefill
        out[f"{role} decode"] = max(0.0, usage[role].seconds - prefill)
    out["reward"] = usage["reward"].seconds
    out["outside"] = max(0.0, record.wall_seconds - sum(out.values()))
    return out


def timed(record: SampleRecord) -> bool:
    """Whether the roles' call timers ran for this answer: samples recorded before they existed
    read back with no seconds at all."""
    return record.usage["draft"].seconds + record.usage["target"].seconds > 0


def side_by_side(out: Path, methods: list[str], console: Console) -> dict:
    records = {m: read_samples(out / f"samples-{m}.jsonl") for m in methods}
    conventions = {"ours": lambda r: r.flops, "with prompt": lambda r: r.flops_with_prompt,
                   "paper": lambda r: flops_paper(r.usage)}
    base = records.get("target")
    base_flops = {c: sum(f(r) for r in base) / len(base) for c, f in conventions.items()} if base else {}
    base_wall = sum(r.wall_seconds for r in base) if base else None
    n_problems = len(next(iter(records.values())))
    table = Table(title=f"GSM8K, {n_problems} problems: cost against the target alone")
    for col in ("method", "accuracy", "FLOPs/q (ours)", "÷ target", "+prompt ÷ target", "paper ÷ target",
                "median s/q", "wall ÷ target", "draft steps kept"):
        table.add_column(col, justify="left" if col == "method" else "right")
    summary = {}
    for m, recs in records.items():
        n = len(recs)
        flops = {c: sum(f(r) for r in recs) / n for c, f in conventions.items()}
        ratios = {c: flops[c] / base_flops[c] if base_flops.get(c) else None for c in conventions}
        wall = sum(r.wall_seconds for r in recs)
        kept = kept_share(recs)  # of the draft steps the reward judged, as RSD counted them
        acc = sum(r.correct for r in recs)
        split = m != "sd" and all(timed(r) for r in recs)
        spent = {phase: sum(phases(r)[phase] for r in recs) for phase in PHASES} if split else {}
        summary[m] = {"accuracy": acc / n, "n": n, "flops": flops, "flops_over_target": ratios,
                      "wall_seconds": wall, "wall_over_target": wall / base_wall if base_wall else None,
                      "median_wall": statistics.median(r.wall_seconds for r in recs),
                      "phase_share": {p: spent[p] / wall if wall and p in spent else None for p in PHASES},
                      "draft_kept": kept if m == "rsd" and not math.isnan(kept) else None}

        def ratio(x):
            return f"{x:.2f}x" if x is not None else "-"
        table.add_row(
            m, f"{acc / n:.1%} ({acc}/{n})", f"{flops['ours']:.3e}", ratio(ratios["ours"]),
            ratio(ratios["with prompt"]), ratio(ratios["paper"]), f"{summary[m]['median_wall']:.1f}",
            ratio(summary[m]["wall_over_target"]),
            f"{summary[m]['draft_kept']:.0%}" if summary[m]["draft_kept"] is not None else "-")
    console.print(table)
    time_table = Table(title="Where the wall time went (share of each method's total)")
    time_table.add_column("method")
    for phase in PHASES:
        time_table.add_column(phase, justify="right")
    for m, row in summary.items():
        shares = row["phase_share"]
        time_table.add_row(m, *(f"{shares[p]:.1%}" if shares[p] is not None else "-" for p in PHASES))
    console.print(time_table)
    console.print("sd runs llama.cpp's own speculative loop: its time is not split into phases; "
                  "nor are samples recorded before the role timers existed.")
    return summary


def label_rejections(rsd_records: list[SampleRecord], target_name: str, max_tokens: int, console: Console) -> dict:
    """Judge rejected draft steps (and as many accepted ones) by target rollouts."""
    target = load_model(target_name)
    rejected: list[tuple[SampleRecord, str, str]] = []
    accepted: list[tuple[SampleRecord, str, str]] = []
    for rec in rsd_records:
        prefix = ""
        for step in rec.steps:
            if step.rejected_draft is not None:
                rejected.append((rec, prefix, step.rejected_draft.text))
            elif step.source == "draft" and step.text.strip():
                accepted.append((rec, prefix, step.text))
            prefix += step.text
    accepted = random.Random(0).sample(accepted, min(len(accepted), max(len(rejected), 10)))

    def wrong(item: tuple[SampleRecord, str, str]) -> bool:
        rec, prefix, step = item
        messages, text = build_messages(format_question(rec.question)), prefix + step
        for _ in range(40):
            gen = target.generate_step(messages, text, SamplingParams(max_tokens=max_tokens))
            text += gen.text
            if gen.ends_answer:
                break
        return not is_correct(text, rec.gold, "gsm8k")

    rej = [wrong(x) for x in track(rejected, description="rollouts after rejected steps", console=console)]
    acc = [wrong(x) for x in track(accepted, description="rollouts after accepted steps", console=console)]
    result = {"rejected": len(rej), "rejected_wrong": sum(rej),
              "accepted_sampled": len(acc), "accepted_wrong": sum(acc)}
    console.print(
        f"rejected draft steps: {sum(rej)}/{len(rej)} wrong ({sum(rej) / max(1, len(rej)):.0%}); "
        f"accepted draft steps (sample): {sum(acc)}/{len(acc)} wrong ({sum(acc) / max(1, len(acc)):.0%})")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--methods", default="rsd,target,draft,sd")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--reward", default=DEFAULT_REWARD)
    ap.add_argument("--delta", type=float, default=0.7)
    ap.add_argument("--draft", default="qwen2.5-coder-0.5b")
    ap.add_argument("--target", default="qwen2.5-coder-1.5b")
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--label-rejections", action="store_true")
    ap.add_argument("--output", default="runs/cost")
    args = ap.parse_args()

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    cfg = load_config(None, {"dataset": "gsm8k", "limit": args.limit, "methods": methods, "delta": args.delta,
                             "reward": args.reward, "draft": args.draft, "target": args.target,
                             "max_tokens": args.max_tokens, "data_dir": args.data_dir, "output": args.output})
    console = Console()
    run_eval(cfg, resume=True, console=console)
    out = Path(args.output)
    result = {"side_by_side": side_by_side(out, methods, console), "config": cfg.model_dump()}
    if args.label_rejections:
        result["labels"] = label_rejections(read_samples(out / "samples-rsd.jsonl"), args.target,
                                            args.max_tokens, console)
    (out / "bench-cost.json").write_text(json.dumps(result, indent=2))
    console.print(f"wrote {out / 'bench-cost.json'}")


if __name__ == "__main__":
    main()
