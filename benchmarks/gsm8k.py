"""GSM8K: RSD against target-only and draft-only, measured side by side in one run.

    .venv/bin/python benchmarks/gsm8k.py --limit 30
    .venv/bin/python benchmarks/gsm8k.py --limit 12 --rewards likelihood,arithmetic,arithmetic*likelihood

Prints accuracy, FLOPs per question (generated-only, as in the paper, and
with prompt processing), the FLOPs ratio against target-only, acceptance and
median wall time per question. With ``--label-rejections`` it also checks the
reward against an outside judgement: each rejected draft step, and as many
accepted ones, is continued by the target (greedy) from the prefix that ends
with that step; a step counts as *wrong* when that continuation's answer is
wrong (Math-Shepherd's completion-based labels, with one rollout).

Data: ``--data`` or ``$REWARDSPEC_DATA`` (default ../shared/data/gsm8k.jsonl).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from rewardspec.grading import gsm8k_gold, is_correct
from rewardspec.methods.rsd import RSD, DecodeConfig
from rewardspec.models import load_model
from rewardspec.models.base import SamplingParams
from rewardspec.prompts import build_messages
from rewardspec.rewards import DEFAULT_REWARD, make_reward
from rewardspec.types import Trace

HERE = Path(__file__).resolve().parent


def load_gsm8k(path: Path, limit: int) -> list[tuple[str, str]]:
    rows = []
    with open(path) as fh:
        for line in fh:
            item = json.loads(line)
            rows.append((item["question"], gsm8k_gold(item["answer"])))
            if len(rows) == limit:
                break
    return rows


def summarize(name: str, traces: list[Trace], golds: list[str]) -> dict:
    n = len(traces)
    correct = [is_correct(t.text, g) for t, g in zip(traces, golds)]
    proposals = sum(t.draft_steps + sum(s.rejected_draft is not None for s in t.steps) for t in traces)
    return {
        "method": name,
        "n": n,
        "accuracy": sum(correct) / n,
        "flops_per_question": sum(t.flops for t in traces) / n,
        "flops_with_prompt_per_question": sum(t.flops_with_prompt for t in traces) / n,
        "draft_acceptance": (sum(t.draft_steps for t in traces) / proposals) if proposals else None,
        "draft_only_fraction": sum(t.target_steps == 0 for t in traces) / n,
        "median_wall_seconds": statistics.median(t.wall_seconds for t in traces),
        "tokens_per_question": sum(t.response_tokens for t in traces) / n,
        "correct": correct,
    }


def label_steps(traces: list[Trace], golds: list[str], target, max_tokens: int, seed: int) -> dict:
    """Judge rejected draft steps (and as many accepted ones) by target rollouts."""
    rejected, accepted = [], []
    for t, gold in zip(traces, golds):
        prefix = ""
        for step in t.steps:
            if step.rejected_draft is not None:
                rejected.append((t.question, prefix, step.rejected_draft.text, gold))
            elif step.source == "draft" and step.text.strip():
                accepted.append((t.question, prefix, step.text, gold))
            prefix += step.text
    rng = random.Random(seed)
    accepted = rng.sample(accepted, min(len(accepted), max(len(rejected), 10)))

    def wrong(item) -> bool:
        question, prefix, step, gold = item
        messages, text = build_messages(question), prefix + step
        for _ in range(40):
            gen = target.generate_step(messages, text, SamplingParams(max_tokens=max_tokens))
            text += gen.text
            if gen.ends_answer:
                break
        return not is_correct(text, gold)

    rej = [wrong(x) for x in track(rejected, description="labelling rejected steps")]
    acc = [wrong(x) for x in track(accepted, description="labelling accepted steps")]
    return {
        "rejected": len(rej), "rejected_wrong": sum(rej),
        "accepted_sampled": len(acc), "accepted_wrong": sum(acc),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=30)
    ap.add_argument("--data", default=os.environ.get("REWARDSPEC_DATA", HERE.parent.parent / "shared" / "data"))
    ap.add_argument("--rewards", default=DEFAULT_REWARD, help="comma-separated reward specs for rsd")
    ap.add_argument("--delta", type=float, default=0.7)
    ap.add_argument("--draft", default="qwen2.5-coder-0.5b")
    ap.add_argument("--target", default="qwen2.5-coder-1.5b")
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--label-rejections", action="store_true")
    ap.add_argument("--output", default="runs/bench-gsm8k.json")
    args = ap.parse_args()

    data = Path(args.data)
    data = data / "gsm8k.jsonl" if data.is_dir() else data
    if not data.is_file():
        sys.exit(f"GSM8K data not found at {data}; pass --data or set REWARDSPEC_DATA")
    problems = load_gsm8k(data, args.limit)
    golds = [g for _, g in problems]
    draft, target = load_model(args.draft), load_model(args.target)
    config = DecodeConfig(max_tokens=args.max_tokens)
    solvers: dict[str, RSD] = {}
    if not args.no_baselines:
        solvers["target"] = RSD(target=target, method="target", config=config)
        solvers["draft"] = RSD(draft=draft, method="draft", config=config)
    for spec in args.rewards.split(","):
        solvers[f"rsd[{spec}]"] = RSD(draft=draft, target=target, reward=make_reward(spec, load_model),
                                      delta=args.delta, config=config)

    results, traces_by = [], {}
    for name, solver in solvers.items():
        traces = [solver.solve(q) for q, _ in track(problems, description=f"{name:>28}")]
        traces_by[name] = traces
        results.append(summarize(name, traces, golds))

    base = next((r for r in results if r["method"] == "target"), None)
    table = Table(title=f"GSM8K, first {len(problems)} problems, δ={args.delta}")
    for col in ("method", "accuracy", "FLOPs/q", "target/method FLOPs", "FLOPs/q w/ prompt",
                "target/method w/ prompt", "draft accept", "no target step", "median s/q"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for r in results:
        ratio = f"{base['flops_per_question'] / r['flops_per_question']:.2f}x" if base else "-"
        ratio_p = (f"{base['flops_with_prompt_per_question'] / r['flops_with_prompt_per_question']:.2f}x"
                   if base else "-")
        acc = f"{r['draft_acceptance']:.0%}" if r["draft_acceptance"] is not None else "-"
        table.add_row(r["method"], f"{r['accuracy']:.1%} ({sum(r['correct'])}/{r['n']})",
                      f"{r['flops_per_question']:.3e}", ratio, f"{r['flops_with_prompt_per_question']:.3e}",
                      ratio_p, acc, f"{r['draft_only_fraction']:.0%}", f"{r['median_wall_seconds']:.1f}")
    console = Console()
    console.print(table)

    labels = {}
    if args.label_rejections:
        for name, traces in traces_by.items():
            if name.startswith("rsd"):
                labels[name] = label_steps(traces, golds, target, args.max_tokens, seed=0)
                lab = labels[name]
                console.print(
                    f"{name}: rejected {lab['rejected']} draft steps, {lab['rejected_wrong']} of them wrong "
                    f"({lab['rejected_wrong'] / max(1, lab['rejected']):.0%}); sampled accepted steps: "
                    f"{lab['accepted_wrong']}/{lab['accepted_sampled']} wrong "
                    f"({lab['accepted_wrong'] / max(1, lab['accepted_sampled']):.0%})")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"results": results, "labels": labels, "args": vars(args)},
                              indent=2, default=str))
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
