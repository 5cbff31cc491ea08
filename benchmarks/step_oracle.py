"""What would a perfect step reward buy with this draft? RSD with a rollout oracle, and rollout labels.

    .venv/bin/python benchmarks/step_oracle.py [--ids 0-29] [--output runs/step-oracle]

Every draft step RSD proposes gets a **rollout label**: the target continues greedily from
the prefix and that step to the end of the answer, and the step is *good* when that rollout
reaches the right answer (Math-Shepherd's hard estimate, with one greedy completion by the
model that would write the rest in RSD). The **step-level oracle** then decides each step:

* ``--oracle harmless`` (default) rejects only the *harmful* steps: those after which the
  target's rollout fails where from the prefix alone it would have succeeded. Once no target
  rollout succeeds from the prefix, a rewrite cannot help, so the draft's cheaper steps stay;
* ``--oracle good`` accepts exactly the good steps (the issue's literal rule): every step after
  a doomed prefix is then rejected and rewritten, at the target's cost, to no avail.

The rollouts are not counted as FLOPs: the oracle is a bound on what any reward could do with
this draft and this target, not a method.

It prints, on the same problems and settings as ``benchmarks/candidates.py`` (whose
``--output``/baselines it reuses, or runs):

* the oracle's accuracy, its gain over the draft–target line, its FLOPs ÷ target in all three
  conventions and the share of draft steps it kept;
* how many draft steps are good, and each free reward's step-level AUROC against the labels,
  with what it does at its δ (good steps it rejects, bad steps it keeps); ``--score SPEC``
  (repeatable) scores the labelled steps afterwards with any other reward too, e.g. a value
  head read on the target (``head:PATH``) or ``ratio:target``.

Labels go to ``--output``/labels.jsonl and the oracle's samples to samples-oracle.jsonl, one
line per problem as it finishes (resumable); the summary to step_oracle.json. Run it alone.
The oracle is :mod:`rewardspec.analysis.rollout_oracle`'s; the label table is
:mod:`rewardspec.analysis.step_labels`'s.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import track
from rich.table import Table

from rewardspec.analysis.baselines import add_problem_arguments, chosen_problems, run_baselines
from rewardspec.analysis.draft_target_line import line_gain, run_row
from rewardspec.analysis.rollout_oracle import ORACLES, RolloutOracle
from rewardspec.analysis.step_labels import FREE_REWARDS, StepLabel, score_labels, step_table
from rewardspec.eval.runner import Solvers, load_config, make_record, read_samples
from rewardspec.methods.rsd import RSD
from rewardspec.prompts import format_question
from rewardspec.rewards import DEFAULT_REWARD, make_reward


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_problem_arguments(ap, gsm8k_ids="0-29")
    ap.add_argument("--output", default="runs/step-oracle")
    ap.add_argument("--baselines", default=None,
                    help="a candidates.py baselines directory to reuse (default: OUTPUT/baselines)")
    ap.add_argument("--oracle", default="harmless", choices=ORACLES,
                    help="harmless: reject only steps that turn a target rollout from right to wrong; "
                         "good: accept exactly the steps whose rollout succeeds")
    ap.add_argument("--free-rewards", default=",".join(FREE_REWARDS))
    ap.add_argument("--score", action="append", default=[], metavar="SPEC",
                    help="also score every labelled step with this reward afterwards (repeatable)")
    args = ap.parse_args()
    common, examples = chosen_problems(args)
    wanted = {e.id for e in examples}
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=True)
    baselines = run_baselines(common, Path(args.baselines) if args.baselines else out / "baselines", wanted, console)

    cfg = load_config(None, {**common, "methods": ["rsd"], "output": str(out)})
    dataset = examples[0].dataset
    solvers = Solvers(cfg, dataset)
    free = {spec: make_reward(spec) for spec in args.free_rewards.split(",") if spec}
    oracle = RolloutOracle(solvers.models.target, solvers.decode, dataset, free, args.oracle)
    rsd = RSD(draft=solvers.models.draft, target=solvers.models.target, reward=oracle, delta=0.5,
              config=solvers.decode)

    samples_path, labels_path = out / "samples-oracle.jsonl", out / "labels.jsonl"
    settings = {"oracle": args.oracle, "dataset": dataset, "max_tokens": args.max_tokens}
    settings_path = out / "oracle.json"
    if settings_path.exists() and json.loads(settings_path.read_text()) != settings and samples_path.exists():
        raise SystemExit(f"{out} holds an oracle run made with {settings_path.read_text().strip()}; "
                         f"now {json.dumps(settings)}: choose another --output")
    settings_path.write_text(json.dumps(settings) + "\n")
    done = {r.id for r in read_samples(samples_path)}
    todo = [e for e in examples if e.id not in done]
    with open(samples_path, "a", encoding="utf-8") as samples, open(labels_path, "a", encoding="utf-8") as labels:
        for example in track(todo, description="oracle rollouts", console=console):
            oracle.start(example)
            trace = rsd.solve(format_question(example.question, example.choices), on_step=oracle.decided)
            labels.write(json.dumps({"id": example.id, "steps": oracle.labels}, ensure_ascii=False) + "\n")
            labels.flush()
            samples.write(json.dumps(make_record(example, trace, dataset).to_dict(), ensure_ascii=False) + "\n")
            samples.flush()

    records = {r.id: r for r in read_samples(samples_path) if r.id in wanted}
    rows = {m: run_row(baselines[m]) for m in ("draft", "target")}
    rows["step oracle"] = run_row(list(records.values()))
    by_id: dict[str, list[StepLabel]] = {}
    for line in labels_path.read_text(encoding="utf-8").splitlines():
        if line.strip() and (row := json.loads(line))["id"] in wanted:
            by_id.setdefault(row["id"], row["steps"])  # a problem resumed after a crash: its first labels
    if args.score:
        score_labels(by_id, records, args.score, solvers, out / "scores.json", console)
    step_labels = [s for steps in by_id.values() for s in steps]

    t, d = rows["target"], rows["draft"]
    table = Table(title=f"{dataset}, {t['n']} problems, greedy, {args.max_tokens} tokens: "
                        f"the step-level oracle ({args.oracle}) against the draft–target line")
    for col in ("method", "accuracy", "gain (pts)", "FLOPs ÷ target", "+prompt ÷ t", "paper ÷ t", "steps kept"):
        table.add_column(col, justify="left" if col == "method" else "right")
    result: dict[str, Any] = {"dataset": dataset, "oracle": args.oracle, "ids": args.ids, "levels": args.levels, "limit": args.limit,
                              "max_tokens": args.max_tokens, "methods": {}}
    for name, row in rows.items():
        gain = line_gain(row["accuracy"], row["flops"], (d["flops"], d["accuracy"]), (t["flops"], t["accuracy"]))
        ratio = {k: row[k] / t[k] for k in ("flops", "flops_with_prompt", "flops_paper")}
        table.add_row(name, f"{row['accuracy']:.1%}", f"{100 * gain:+.1f}", f"{ratio['flops']:.2f}x",
                      f"{ratio['flops_with_prompt']:.2f}x", f"{ratio['flops_paper']:.2f}x",
                      f"{row['kept']:.0%}" if name == "step oracle" else "-")
        result["methods"][name] = {**row, "gain": gain, "ratio_to_target": ratio}
    steps, result["rewards"] = step_table(step_labels, {"likelihood-min": 0.7, DEFAULT_REWARD: 0.7, "arithmetic": 0.5,
                                                        **{spec: 0.5 for spec in args.score}})
    result["labelled_steps"] = len(step_labels)
    result["good_steps"] = sum(s["good"] for s in step_labels)
    wide = Console(width=max(120, Console().width))
    wide.print(table)
    wide.print(steps)
    (out / "step_oracle.json").write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {out / 'step_oracle.json'}, {labels_path}")


if __name__ == "__main__":
    main()
