"""How well does each step reward see the harmful steps in train-reward's rollout labels?

    .venv/bin/python benchmarks/rollout_labels.py --work runs/train-rollout \
        [--head runs/head-harmless40.json ...] [--rewards SPEC,...]

``rewardspec train-reward --labels rollout|harmless`` labels every step of the draft's
training solutions with the target's rollouts (see :mod:`rewardspec.rollouts`). This script
puts the free rewards and the heads side by side on those labelled steps:

* each free reward (default: the ones ``benchmarks/step_oracle.py`` reports) is scored on every
  labelled step, as RSD would score it, and gets its AUROC good vs. bad and harmless vs.
  harmful, with its errors at its δ (the table of ``step_oracle.py``);
* each head fitted on these labels is reported by the **grouped cross-validated** AUROC stored
  in its file, because scoring it on the steps it was fitted on would flatter it.

Scores are cached in WORK/label-scores.json. It loads the draft only; run it alone. The
labelled steps, their scores and both tables are :mod:`rewardspec.analysis.step_labels`'s.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from rewardspec.analysis.step_labels import FREE_REWARDS, head_table, labelled_steps, score_labels, step_table
from rewardspec.eval.runner import Solvers, load_config
from rewardspec.rewards import DEFAULT_REWARD

DELTAS = {"likelihood-min": 0.7, DEFAULT_REWARD: 0.7, "arithmetic": 0.5}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="runs/train-rollout", help="train-reward's --work directory")
    ap.add_argument("--rewards", default=",".join(FREE_REWARDS), help="rewards to score every labelled step with")
    ap.add_argument("--head", action="append", default=[], metavar="PATH",
                    help="a head trained on these labels, reported by its stored CV AUROC (repeatable)")
    args = ap.parse_args()
    work = Path(args.work)
    by_id, records = labelled_steps(work)
    if not by_id:
        raise SystemExit(f"{work} has no labelled draft solutions yet")
    run = json.loads((work / "run.json").read_text()).get("samples-draft.jsonl", {})
    cfg = load_config(None, {"dataset": next(iter(records.values())).dataset, "methods": ["draft"],
                             "output": str(work), **{k: run[k] for k in ("draft", "target", "max_tokens") if k in run}})
    console = Console(stderr=True)
    specs = [s for s in args.rewards.split(",") if s]
    score_labels(by_id, records, specs, Solvers(cfg, cfg.dataset), work / "label-scores.json", console)
    steps = [s for labels in by_id.values() for s in labels]
    table, result = step_table(steps, {**{s: 0.5 for s in specs}, **DELTAS})
    table.title = f"{len(by_id)} training problems, " + str(table.title)
    wide = Console(width=max(120, Console().width))
    wide.print(table)
    if args.head:
        wide.print(head_table(args.head))
    (work / "label_aurocs.json").write_text(json.dumps(
        {"problems": sorted(by_id), "steps": len(steps), "rewards": result}, indent=2) + "\n")
    console.print(f"wrote {work / 'label_aurocs.json'}")


if __name__ == "__main__":
    main()
