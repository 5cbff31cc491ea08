"""GSM8K: RSD against target-only and draft-only, measured side by side in one run.

    .venv/bin/python benchmarks/gsm8k.py --limit 30 [--label-rejections]

Runs (or resumes) ``rewardspec eval`` for rsd, target and draft into
``--output``, then prints accuracy, FLOPs per question in both conventions,
the FLOPs ratio target/method, draft acceptance and the median wall time per
question. With ``--label-rejections`` it checks the reward against an outside
judgement: every rejected draft step, and as many accepted ones, is continued
by the target (greedy) from the prefix ending with that step; a step counts
as *wrong* when that continuation's final answer is wrong (Math-Shepherd's
completion labels, one rollout by the stronger model).

Data: ``--data-dir`` or ``$REWARDSPEC_DATA`` (default ../shared/data).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from rewardspec.eval.runner import load_config, read_samples, run_eval
from rewardspec.grading import is_correct
from rewardspec.models import load_model
from rewardspec.models.base import SamplingParams
from rewardspec.prompts import build_messages, format_question
from rewardspec.rewards import DEFAULT_REWARD

HERE = Path(__file__).resolve().parent


def side_by_side(out: Path, methods: list[str], console: Console) -> dict:
    records = {m: read_samples(out / f"samples-{m}.jsonl") for m in methods}
    base = records.get("target")
    base_flops = sum(r.flops for r in base) / len(base) if base else None
    base_flops_p = sum(r.flops_with_prompt for r in base) / len(base) if base else None
    table = Table(title=f"GSM8K, {len(next(iter(records.values())))} problems")
    for col in ("method", "accuracy", "FLOPs/q", "target ÷ method", "FLOPs+prompt/q", "target ÷ method (+prompt)",
                "draft steps kept", "no target step", "median s/q"):
        table.add_column(col, justify="left" if col == "method" else "right")
    summary = {}
    for m, recs in records.items():
        n = len(recs)
        flops = sum(r.flops for r in recs) / n
        flops_p = sum(r.flops_with_prompt for r in recs) / n
        kept = sum(s["source"] == "draft" for r in recs for s in r.steps if s["text"].strip())
        rejected = sum(s.get("rejected_draft") is not None for r in recs for s in r.steps)
        acc = sum(r.correct for r in recs)
        no_target = sum(all(s["source"] == "draft" for s in r.steps) for r in recs)
        summary[m] = {"accuracy": acc / n, "n": n, "flops": flops, "flops_with_prompt": flops_p,
                      "target_over_method": base_flops / flops if base_flops else None,
                      "draft_kept": kept / (kept + rejected) if m == "rsd" and kept + rejected else None,
                      "median_wall": statistics.median(r.wall_seconds for r in recs)}
        table.add_row(
            m, f"{acc / n:.1%} ({acc}/{n})", f"{flops:.3e}",
            f"{base_flops / flops:.2f}x" if base_flops else "-", f"{flops_p:.3e}",
            f"{base_flops_p / flops_p:.2f}x" if base_flops_p else "-",
            f"{summary[m]['draft_kept']:.0%}" if summary[m]["draft_kept"] is not None else "-",
            f"{no_target / n:.0%}" if m == "rsd" else "-", f"{summary[m]['median_wall']:.1f}")
    console.print(table)
    return summary


def label_rejections(rsd_records: list[dict], target_name: str, max_tokens: int, console: Console) -> dict:
    """Judge rejected draft steps (and as many accepted ones) by target rollouts."""
    target = load_model(target_name)
    rejected, accepted = [], []
    for rec in rsd_records:
        prefix = ""
        for step in rec.steps:
            if step.get("rejected_draft"):
                rejected.append((rec, prefix, step["rejected_draft"]["text"]))
            elif step["source"] == "draft" and step["text"].strip():
                accepted.append((rec, prefix, step["text"]))
            prefix += step["text"]
    accepted = random.Random(0).sample(accepted, min(len(accepted), max(len(rejected), 10)))

    def wrong(item) -> bool:
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
    ap.add_argument("--limit", type=int, default=30)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--reward", default=DEFAULT_REWARD)
    ap.add_argument("--delta", type=float, default=0.7)
    ap.add_argument("--draft", default="qwen2.5-coder-0.5b")
    ap.add_argument("--target", default="qwen2.5-coder-1.5b")
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--label-rejections", action="store_true")
    ap.add_argument("--output", default="runs/gsm8k30")
    args = ap.parse_args()

    methods = ["rsd", "target", "draft"]
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
    (out / "bench-gsm8k.json").write_text(json.dumps(result, indent=2))
    console.print(f"wrote {out / 'bench-gsm8k.json'}")


if __name__ == "__main__":
    main()
