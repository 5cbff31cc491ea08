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

Scores are cached in WORK/label-scores.json. It loads the draft only; run it alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from step_oracle import FREE_REWARDS, score_labels, step_table  # noqa: E402

from rewardspec.eval.runner import Solvers, load_config, read_samples  # noqa: E402
from rewardspec.rewards import DEFAULT_REWARD  # noqa: E402
from rewardspec.train_reward import ROLLOUT_LABELS  # noqa: E402

DELTAS = {"likelihood-min": 0.7, DEFAULT_REWARD: 0.7, "arithmetic": 0.5}


def labelled_steps(work: Path) -> tuple[dict[str, list[dict[str, Any]]], dict]:
    """The draft's labelled steps per problem, each with its text, and the draft's records."""
    records = {r.id: r for r in read_samples(work / "samples-draft.jsonl")}
    by_id: dict[str, list[dict[str, Any]]] = {}
    path = work / ROLLOUT_LABELS
    if not path.exists():
        raise SystemExit(f"no {path}: run rewardspec train-reward --labels harmless --work {work} first")
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if row["method"] != "draft" or row["id"] not in records or row["id"] in by_id:
            continue
        steps = records[row["id"]].steps
        by_id[row["id"]] = [{**lab, "text": steps[lab["step"]]["text"], "rewards": {}} for lab in row["steps"]]
    return by_id, records


def head_table(paths: list[str]) -> Table:
    table = Table(title="heads fitted on these labels: grouped 5-fold cross-validated AUROC")
    for col in ("head", "labels", "read", "steps", "AUROC (good vs. bad)", "AUROC (harmless vs. harmful)",
                "as ?advantage=true (harmless vs. harmful)", "AUROC per solution"):
        table.add_column(col, justify="left" if col in ("head", "labels", "read") else "right")
    for path in paths:
        data = json.loads(Path(path).read_text())
        prov = data.get("provenance", {})
        m = prov.get("metrics", {})
        table.add_row(Path(path).name, str(prov.get("labels", "?")), str(data.get("read", "?")),
                      str(m.get("steps", "?")), f"{m.get('cv_good_auroc', float('nan')):.2f}",
                      f"{m.get('cv_harmless_auroc', float('nan')):.2f}",
                      f"{m.get('cv_advantage_harmless_auroc', float('nan')):.2f}",
                      f"{m.get('cv_solution_min_auroc', float('nan')):.2f}")
    return table


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
