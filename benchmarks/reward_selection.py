"""Which CPU reward should RSD use by default? Measured on the draft's own solutions.

    .venv/bin/rewardspec eval --dataset gsm8k --limit 30 --methods draft --output runs/gsm8k30
    .venv/bin/python benchmarks/reward_selection.py runs/gsm8k30/samples-draft.jsonl [--with-target]
        [--reward head:qwen2.5-coder-0.5b --reward ratio:target …]

For every step of every draft-only solution it computes each candidate
reward, then asks what RSD at threshold δ would have done: send at least one
step of a *wrong* solution to the target (good: a chance to fix it) or of a
*right* solution (wasted target work). AUROC is threshold-free: how well the
solution's lowest step reward separates wrong solutions from right ones.
Costs are the extra FLOPs per step the reward itself needs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from rewardspec.analysis.auroc import auroc
from rewardspec.eval.runner import read_samples
from rewardspec.models import load_model
from rewardspec.prompts import build_messages, format_question
from rewardspec.rewards import make_reward
from rewardspec.rewards.arithmetic import ArithmeticReward
from rewardspec.rewards.likelihood import likelihood_to_reward
from rewardspec.types import Generation


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("samples", help="samples-draft.jsonl from `rewardspec eval --methods draft`")
    ap.add_argument("--draft", default="qwen2.5-coder-0.5b")
    ap.add_argument("--with-target", default=None, metavar="MODEL",
                    help="also score with this model's likelihood (costs its forward passes)")
    ap.add_argument("--deltas", default="0.5,0.6,0.7,0.8,0.9")
    ap.add_argument("--reward", action="append", default=[], metavar="SPEC",
                    help="also any reward spec (head:NAME, ratio:target, …); 'target' and 'draft' "
                         "name --target-model and --draft; repeatable")
    ap.add_argument("--target-model", default="qwen2.5-coder-1.5b")
    args = ap.parse_args()

    records = read_samples(Path(args.samples))
    scorers = {"self": load_model(args.draft)}
    if args.with_target:
        scorers["target"] = load_model(args.with_target)
    arithmetic = ArithmeticReward()
    roles = {"draft": args.draft, "target": args.target_model}
    extra = {spec: make_reward(spec, lambda name: load_model(roles.get(name, name))) for spec in args.reward}
    rows = []  # (correct, {candidate: [step rewards]})
    reward_flops: list[dict[str, float]] = []  # per solution: what each extra reward's calls cost
    for rec in track(records, description="scoring steps"):
        spent = dict.fromkeys(extra, 0.0)
        messages = build_messages(format_question(rec.question))
        cands: dict[str, list[float]] = {}
        prefix = ""
        for step in rec.steps:
            text = step.text
            if not text.strip():
                continue
            arith = arithmetic.score(rec.question, [], text).value
            cands.setdefault("arithmetic", []).append(arith)
            for who, model in scorers.items():
                lps = model.score_continuation(messages, prefix, text).token_logprobs
                tag = "likelihood" if who == "self" else f"likelihood:{who}"
                for reduce, name in (("mean", tag), ("min", tag.replace("likelihood", "likelihood-min"))):
                    r = likelihood_to_reward(lps, reduce)  # raw p (uncalibrated) for the min
                    cands.setdefault(name, []).append(r)
                    cands.setdefault(f"arithmetic*{name}", []).append(arith * r)
            if extra:
                # The draft's own token log-probabilities, as RSD hands them to the reward.
                own = scorers["self"].score_continuation(messages, prefix, text).token_logprobs
                gen = Generation(text, len(own), 0, "step", own)
                previous = [prefix] if prefix else []
                for spec, reward in extra.items():
                    score = reward.score(rec.question, previous, text, gen)
                    cands.setdefault(spec, []).append(score.value)
                    spent[spec] += 2.0 * (getattr(reward, "params", 0) or 0) * score.scored_tokens
            prefix += text
        rows.append((rec.correct, cands))
        reward_flops.append(spent)

    deltas = [float(d) for d in args.deltas.split(",")]
    names = sorted({n for _, c in rows for n in c})
    n_wrong = sum(not ok for ok, _ in rows)
    table = Table(title=f"{len(rows)} draft solutions ({n_wrong} wrong): would RSD send a step to the target?")
    table.add_column("reward")
    table.add_column("AUROC (min step)", justify="right")
    for d in deltas:
        table.add_column(f"δ={d:g} wrong/right flagged, steps rejected", justify="right")
    result = {}
    for name in names:
        mins_bad = [min(c[name]) for ok, c in rows if not ok and c.get(name)]
        mins_good = [min(c[name]) for ok, c in rows if ok and c.get(name)]
        cells, per_delta = [], {}
        for d in deltas:
            wrong_flag = sum(m < d for m in mins_bad) / max(1, len(mins_bad))
            right_flag = sum(m < d for m in mins_good) / max(1, len(mins_good))
            steps = [r for _, c in rows for r in c.get(name, [])]
            rejected = sum(r < d for r in steps) / max(1, len(steps))
            per_delta[d] = {"wrong_flagged": wrong_flag, "right_flagged": right_flag, "steps_rejected": rejected}
            cells.append(f"{wrong_flag:.0%} / {right_flag:.0%}, {rejected:.0%}")
        a = auroc(mins_bad, mins_good)
        result[name] = {"auroc": a, "deltas": per_delta}
        table.add_row(name, f"{a:.2f}", *cells)
    Console().print(table)
    out = Path(args.samples).with_name("reward_selection.json")
    out.write_text(json.dumps({"summary": result,
                               "solutions": [{"id": rec.id, "correct": ok, "rewards": c, "reward_flops": f}
                                             for rec, (ok, c), f in zip(records, rows, reward_flops)]}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
