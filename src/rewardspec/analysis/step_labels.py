"""Step rewards measured against rollout labels: do they see the steps worth a rewrite?

A rollout label (:mod:`rewardspec.rollouts`) says whether the target, continuing from a step,
reaches the right answer (*good*), and whether the step turned a rollout that would succeed
into one that fails (*harmful*). Labels come from two places: the step oracle benchmark
labels the draft steps RSD proposed (:class:`rewardspec.analysis.rollout_oracle.RolloutOracle`),
and ``train-reward --labels rollout|harmless`` labels the draft's training solutions
(:func:`labelled_steps` reads them back). Either way a label is a JSON object per step:
``step`` (its index in the solution), ``text``, ``good``, where known ``solvable_before`` and
``harmful``, and ``rewards`` (spec -> score), which :func:`score_labels` fills in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import track
from rich.table import Table

from rewardspec.analysis.auroc import auroc
from rewardspec.eval.records import SampleRecord
from rewardspec.eval.runner import Solvers, read_samples
from rewardspec.methods.base import as_chat
from rewardspec.prompts import format_question
from rewardspec.rewards import DEFAULT_REWARD, make_reward
from rewardspec.types import Generation

StepLabel = dict[str, Any]
#: The rewards that need no model beyond the draft: the ones every label report scores.
FREE_REWARDS = (DEFAULT_REWARD, "likelihood-min", "arithmetic")


def step_table(labels: list[StepLabel], deltas: Mapping[str, float]) -> tuple[Table, dict[str, Any]]:
    """Each reward against the rollout labels: AUROC, and its errors at its δ (0.7 if not given).

    Two separations: good vs. bad steps, and harmless vs. harmful ones. The second is what RSD
    needs: after a doomed prefix a rewrite cannot help, so only harmful steps are worth one.
    """
    good = [s for s in labels if s["good"]]
    bad = [s for s in labels if not s["good"]]
    table = Table(title=f"{len(labels)} draft steps with rollout labels: {len(good)} good "
                        f"({len(good) / max(1, len(labels)):.0%}), {len(bad)} bad")
    harmful = [s for s in bad if s.get("solvable_before")]
    harmless = good + [s for s in bad if s.get("solvable_before") is False]
    table.caption = (f"harmful: {len(harmful)} bad steps after which the target's rollout fails where from "
                     f"the prefix alone it would succeed; harmless: the {len(harmless)} other steps with that known")
    for col in ("reward", "AUROC (good vs. bad)", "AUROC (harmless vs. harmful)", "δ", "good steps rejected",
                "bad steps kept", "harmful steps kept", "harmless steps rejected"):
        table.add_column(col, justify="left" if col == "reward" else "right")
    out: dict[str, Any] = {}
    for spec in sorted({k for s in labels for k in s["rewards"]}):
        area = auroc([s["rewards"][spec] for s in bad], [s["rewards"][spec] for s in good])
        harm_area = auroc([s["rewards"][spec] for s in harmful], [s["rewards"][spec] for s in harmless])
        delta = deltas.get(spec, 0.7)
        rejected_good = sum(s["rewards"][spec] < delta for s in good) / max(1, len(good))
        kept_bad = sum(s["rewards"][spec] >= delta for s in bad) / max(1, len(bad))
        kept_harmful = sum(s["rewards"][spec] >= delta for s in harmful) / max(1, len(harmful))
        rejected_harmless = sum(s["rewards"][spec] < delta for s in harmless) / max(1, len(harmless))
        table.add_row(spec, f"{area:.2f}", f"{harm_area:.2f}", f"{delta:g}", f"{rejected_good:.0%}",
                      f"{kept_bad:.0%}", f"{kept_harmful:.0%}" if harmful else "-",
                      f"{rejected_harmless:.0%}" if harmful else "-")
        out[spec] = {"auroc": area, "auroc_harmful": harm_area, "delta": delta, "good_rejected": rejected_good,
                     "bad_kept": kept_bad, "harmful_kept": kept_harmful, "harmless_rejected": rejected_harmless,
                     "harmful_steps": len(harmful)}
    return table, out


def score_labels(by_id: Mapping[str, list[StepLabel]], records: Mapping[str, SampleRecord], specs: list[str],
                 solvers: Solvers, cache: Path, console: Console) -> None:
    """Add each spec's score to every labelled step, from (and into) ``cache``.

    Each step is scored as RSD would have scored it: after the steps the record kept before
    it, with the draft's own log-probabilities of the step. The cache is written after every
    problem, so a long scoring run resumes where it stopped.
    """
    stored: dict[str, dict[str, list[float]]] = json.loads(cache.read_text()) if cache.exists() else {}
    draft = solvers.models.draft
    for spec in specs:
        reward = make_reward(spec, solvers.models.role_or_model)
        done = stored.setdefault(spec, {})
        for pid, steps in track(list(by_id.items()), description=f"scoring {spec}", console=console):
            if pid not in done and pid in records:
                record = records[pid]
                messages = as_chat(format_question(record.question), solvers.decode.system_prompt)[1]
                values = []
                for label in steps:
                    previous = [s.text for s in record.steps[:label["step"]]]
                    own = draft.score_continuation(messages, "".join(previous), label["text"]).token_logprobs
                    gen = Generation(label["text"], len(own), 0, "step", own)
                    values.append(reward.score(record.question, previous, label["text"], gen).value)
                done[pid] = values
                cache.write_text(json.dumps(stored))
        for pid, steps in by_id.items():
            for label, value in zip(steps, done.get(pid, [])):
                label["rewards"][spec] = value


def labelled_steps(work: Path) -> tuple[dict[str, list[StepLabel]], dict[str, SampleRecord]]:
    """``train-reward``'s rollout labels of the draft's solutions in ``work``, each with its
    step's text and no scores yet, and the draft's records they label.

    Only the draft's solutions count (the labels file may hold the target's too), and a
    problem labelled twice (a run resumed after a crash) keeps its first labels.
    """
    from rewardspec.train_reward import ROLLOUT_LABELS

    records = {r.id: r for r in read_samples(work / "samples-draft.jsonl")}
    by_id: dict[str, list[StepLabel]] = {}
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
        by_id[row["id"]] = [{**lab, "text": steps[lab["step"]].text, "rewards": {}} for lab in row["steps"]]
    return by_id, records


def head_table(paths: list[str]) -> Table:
    """Heads fitted on the labels, by the grouped cross-validated AUROCs stored in their files:
    scoring a head on the steps it was fitted on would flatter it."""
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
