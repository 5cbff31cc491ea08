"""RSD with rewrite reuse and prompt lookup against RSD without, and against the target alone,
side by side in one run.

    .venv/bin/python benchmarks/lookahead.py --dataset gsm8k --ids 0-99 --max-tokens 512

Per problem, one after another from cold KV caches (so no configuration inherits another's
cache), it runs:

* ``target``: the target alone; ``target+lookup``: the same with prompt lookup in its decode;
* ``rsd``: RSD writing rejected steps from scratch;
* ``rsd+reuse``: the target checks each rejected draft step and keeps what it agrees with;
* ``rsd+reuse+lookup``: that, and prompt lookup in both models' decode.

It reports, with 95% intervals: accuracy; how many answers are identical to the run without
proposals (greedy: all, up to the engine's numerics, see docs/engines.md); the share of the
target's rewrite tokens kept from the rejected step and of each model's decode tokens kept from
n-gram guesses; the target's and the draft's seconds against plain RSD's; and wall time against
the target alone's (``rsd+reuse+lookup`` against ``target+lookup``, so the comparison stays fair).

It also measures what a verify pass over k tokens costs against one decode pass on this machine,
and replays plain RSD's answers under that curve and under an assumed memory-bound accelerator
(a pass over a few dozen tokens costs one decode): simulated figures, reported apart.

Writes docs/results/NAME.json and NAME.md. Run it alone: two model processes on 2 cores slow
each other badly.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from rewardspec.analysis.lookahead import curve, measure_pass_costs, memory_bound, replay
from rewardspec.build import Models, build_solver
from rewardspec.eval.datasets import load_dataset
from rewardspec.eval.runner import make_record
from rewardspec.models.lookahead import Proposer
from rewardspec.provenance import provenance
from rewardspec.results import RESULTS_DIR, figure, write
from rewardspec.settings import solver_settings
from rewardspec.uncertainty import paired_ratio, wilson

CONFIGS = {  # name: (method, rewrite reuse, prompt lookup on)
    "target": ("target", False, False),
    "target+lookup": ("target", False, True),
    "rsd": ("rsd", False, False),
    "rsd+reuse": ("rsd", True, False),
    "rsd+reuse+lookup": ("rsd", True, True),
}
BASELINE = {"target+lookup": "target", "rsd+reuse": "rsd", "rsd+reuse+lookup": "rsd"}
"""Whose answers each configuration must reproduce."""
WALL_AGAINST = {"rsd": "target", "rsd+reuse": "target", "rsd+reuse+lookup": "target+lookup",
                "target+lookup": "target"}


def run(args) -> dict:
    settings = solver_settings(draft=args.draft, target=args.target, reward=args.reward)
    models = Models(settings)
    solvers = {}
    for name, (method, reuse, lookup) in CONFIGS.items():
        decode = settings.decode_config(max_tokens=args.max_tokens, seed=0, rewrite_reuse=reuse,
                                        prompt_lookup=args.prompt_lookup if lookup else 0)
        solvers[name] = build_solver(method, settings, decode, models, dataset=args.dataset)
    examples = load_dataset(args.dataset, ids=args.ids, limit=args.limit, data_directory=args.data_dir,
                            levels=args.levels)
    records: dict[str, list] = {name: [] for name in CONFIGS}
    args.samples.mkdir(parents=True, exist_ok=True)
    files = {name: (args.samples / f"samples-{name}.jsonl").open("w") for name in CONFIGS}
    for example in track(examples, description="problems"):
        for name, solver in solvers.items():
            for role in ("draft", "target"):
                getattr(models.loaded(role), "forget_cache", lambda: None)()
            record = make_record(example, solver.solve(example.question), args.dataset)
            records[name].append(record)
            files[name].write(json.dumps(record.to_dict()) + "\n")
            files[name].flush()
    return {"records": records, "models": models, "examples": examples}


def fraction(k: int, n: int) -> dict:
    return figure(k / n if n else None, wilson(k, n) if n else None)


def ratio_of_sums(a: list[float], b: list[float]) -> dict:
    if not any(b):
        return figure(None)
    value, ci = paired_ratio(a, b)
    return figure(value, ci)


def config_figures(name: str, records: dict[str, list]) -> dict:
    mine = records[name]
    out = {"accuracy": fraction(sum(r.correct for r in mine), len(mine))}
    base = BASELINE.get(name)
    if base:
        out["same_text"] = fraction(sum(a.response == b.response for a, b in zip(mine, records[base])), len(mine))
        out["same_answer"] = fraction(sum(a.answer == b.answer for a, b in zip(mine, records[base])), len(mine))
    against = WALL_AGAINST.get(name)
    if against:
        out["wall_vs"] = {"against": against, **ratio_of_sums([r.wall_seconds for r in mine],
                                                               [r.wall_seconds for r in records[against]])}
    if name.startswith("rsd") and name != "rsd":
        for role in ("target", "draft"):
            out[f"{role}_seconds_vs_rsd"] = ratio_of_sums([r.usage[role].seconds for r in mine],
                                                          [r.usage[role].seconds for r in records["rsd"]])
    target = [r.usage["target"] for r in mine]
    if "reuse" in name:
        out["rewrite_kept_share"] = ratio_of_sums([u.lookahead.rewrite_accepted for u in target],
                                                  [u.generated_tokens for u in target])
    if "lookup" in name:
        for role in ("draft", "target"):
            usage = [r.usage[role] for r in mine]
            if any(u.generated_tokens for u in usage):
                out[f"{role}_lookup_kept_share"] = ratio_of_sums([u.lookahead.ngram_accepted for u in usage],
                                                                 [u.generated_tokens for u in usage])
    verify = sum(r.usage[role].lookahead.verify_seconds for r in mine for role in ("draft", "target"))
    out["verify_seconds"] = figure(verify)
    out["passes_saved"] = figure(sum(r.usage[role].lookahead.passes_saved for r in mine for role in ("draft", "target")))
    return out


def simulate(records, models, prompt_lookup: int, costs: dict[str, dict[int, float]]) -> dict:
    """Plain RSD's answers replayed with proposals, under the measured and the assumed curve."""
    from rewardspec.models.lookahead import ACCELERATOR_SHAPE, CPU_SHAPE

    out = {}
    for label, shape, curves in (("this machine", CPU_SHAPE, {r: curve(costs[r]) for r in costs}),
                                 ("memory-bound accelerator (assumed c(k)=1)", ACCELERATOR_SHAPE,
                                  {r: memory_bound for r in costs})):
        target_model, draft_model = models.loaded("target"), models.loaded("draft")
        rewrites, draft_steps = [], []
        for rec in records["rsd"]:
            context: list[int] = target_model._encode(rec.question)
            draft_context: list[int] = draft_model._encode(rec.question)
            for step in rec.steps:
                if step.rejected_draft is not None:
                    rewrites.append((target_model._encode(step.text),
                                     Proposer(target_model._encode(step.rejected_draft.text), shape=shape)))
                if step.source == "draft":
                    draft_steps.append((draft_model._encode(step.text),
                                        Proposer(context=list(draft_context), lookup=prompt_lookup, shape=shape)))
                context += target_model._encode(step.text)
                draft_context += draft_model._encode(step.text)
        rw, dl = replay(rewrites, curves["target"]), replay(draft_steps, curves["draft"])
        out[label] = {"target_rewrite_decode": figure(rw.ratio), "rewrite_kept_share": figure(rw.kept_share),
                      "draft_decode_with_lookup": figure(dl.ratio), "draft_lookup_kept_share": figure(dl.kept_share)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="gsm8k")
    parser.add_argument("--ids", default=None)
    parser.add_argument("--levels", default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--prompt-lookup", type=int, default=2, help="tokens per n-gram guess when lookup is on")
    parser.add_argument("--draft", default=None)
    parser.add_argument("--target", default=None)
    parser.add_argument("--reward", default=None)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--name", default=None, help="results file name (default lookahead-DATASET-IDS)")
    parser.add_argument("--dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--samples", type=Path, default=Path("runs/lookahead"),
                        help="where each configuration's samples go (samples-CONFIG.jsonl), for a look afterwards")
    args = parser.parse_args()
    console = Console(width=200)
    settings = solver_settings(draft=args.draft, target=args.target, reward=args.reward)
    prov = provenance({"draft": settings.draft, "target": settings.target})  # the code that runs, as it starts
    done = run(args)
    records, models = done["records"], done["models"]
    costs = {role: measure_pass_costs(models.loaded(role)) for role in ("draft", "target")}
    figures = {name: config_figures(name, records) for name in CONFIGS}
    table = Table(title=f"{args.dataset} {args.ids or args.limit or 'all'}: proposals checked in batched passes")
    for col in ("config", "accuracy", "same text", "wall ÷", "target s ÷ rsd", "draft s ÷ rsd", "rewrite kept",
                "draft lookup kept", "target lookup kept"):
        table.add_column(col)
    fmt = lambda f: "-" if not f or f.get("value") is None else f"{f['value']:.3f}"  # noqa: E731
    for name, f in figures.items():
        wall = f.get("wall_vs")
        table.add_row(name, fmt(f["accuracy"]), fmt(f.get("same_text")),
                      f"{fmt(wall)} ({wall['against']})" if wall else "-", fmt(f.get("target_seconds_vs_rsd")),
                      fmt(f.get("draft_seconds_vs_rsd")), fmt(f.get("rewrite_kept_share")),
                      fmt(f.get("draft_lookup_kept_share")), fmt(f.get("target_lookup_kept_share")))
    console.print(table)
    pass_costs = {role: {str(k): round(v, 3) for k, v in c.items() if k >= 1} | {"decode_ms": round(1000 * c[0], 2)}
                  for role, c in costs.items()}
    console.print("verify pass over k tokens, in decode passes:", pass_costs)
    simulated = simulate(records, models, args.prompt_lookup, costs)
    console.print("simulated:", simulated)
    name = args.name or f"lookahead-{Path(args.dataset).stem}-{(args.ids or str(args.limit or 'all')).replace(',', '_')}"
    data = {
        "title": " ".join(["Rewrite reuse and prompt lookup,", args.dataset,
                           f"levels {args.levels}" if args.levels else "", args.ids or "",
                           f"first {args.limit}" if args.limit and not args.ids else ""]).replace("  ", " ").strip(),
        "kind": "lookahead",
        "benchmark": "benchmarks/lookahead.py",
        "command": "python " + shlex.join(sys.argv),
        "rerun": True,
        "dataset": args.dataset,
        "problems": (args.ids or (f"first {args.limit}" if args.limit else "all"))
                    + (f" of levels {args.levels}" if args.levels else ""),
        "n": len(done["examples"]),
        "config": {"draft": settings.draft, "target": settings.target, "reward": settings.reward,
                   "delta": settings.delta, "rule": settings.rule, "max_tokens": args.max_tokens,
                   "prompt_lookup": args.prompt_lookup},
        "provenance": prov,
        "methods": figures,
        "pass_cost": pass_costs,
        "simulated": simulated,
    }
    console.print(f"wrote {write(name, data, args.dir)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
