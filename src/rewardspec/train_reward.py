"""``rewardspec train-reward``: fit a value head for any model pair on any (question, answer) data.

Three kinds of label (``--labels``):

* ``outcome`` (default), as in outcome-supervised value models: every step of a solution is
  labelled with whether that solution's final answer is right;
* ``rollout``, as in Math-Shepherd: a step is good when the target's greedy rollout from it
  reaches the right answer (:mod:`rewardspec.rollouts`);
* ``harmless``: from the same rollouts, a step is bad only when it is *harmful* (it turns a
  rollout that would succeed into one that fails). These are the steps that RSD should send
  to the target.

Rollout labels cost about one target solution per step. They are written one problem per
line to ``WORK/rollout-labels.jsonl`` and resume after an interruption. The solutions
are written by the run's own methods (the draft by default) through ``eval``'s runner, so
they resume after an interruption and can be reused. Features are the hidden state of
the draft or the target at the end of each step, read exactly as ``head:`` reads it at
decode time. The probe is an L2 logistic regression (scikit-learn), its strength chosen
by cross-validation grouped by problem, so that no problem is in both the fold it is
fitted on and the fold it is scored on.

Keep training and evaluation problems apart: for GSM8K the default is ``idx >= 700``.
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rewardspec.errors import InvalidInputError, MissingPackageError
from rewardspec.eval.records import SampleRecord
from rewardspec.prompts import QWEN_MATH_COT_SYSTEM, build_messages, format_question
from rewardspec.rewards.value_head import READS, ValueHead, hidden_state_of

#: Problems a head may train on by default, per dataset: never the evaluation problems.
DEFAULT_TRAIN_IDS = {"gsm8k": "700-1318"}
C_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 1.0)
LABELS = ("outcome", "rollout", "harmless", "question")
ROLLOUT_LABELS = "rollout-labels.jsonl"


@dataclass
class StepData:
    features: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    """The problem each step belongs to (for grouped cross-validation)."""
    outcomes: np.ndarray | None = None
    """Whether each step's solution is right (None: the labels are the outcomes)."""
    good: np.ndarray | None = None
    """Rollout labels, when known: the rollout from the step succeeds."""
    harmful: np.ndarray | None = None
    """Rollout labels, when known: the step turns a succeeding rollout into a failing one."""


def step_features(records: list[SampleRecord], model, system_prompt: str | None = QWEN_MATH_COT_SYSTEM,
                  on_record=None, rollout_labels: list[list[dict[str, Any]]] | None = None,
                  labels: str = "outcome") -> StepData:
    """One row per labelled non-empty step: the hidden state after it, and its label.

    Each record's ``question`` is read as the models saw it (:func:`train_reward` formats it).
    With ``rollout_labels`` (one list per record, from :func:`rewardspec.rollouts.label_solution`),
    ``labels`` chooses ``rollout`` (good) or ``harmless``; the outcome is kept beside them.
    """
    rows, ys, groups, outcomes, good, harmful = [], [], [], [], [], []
    for number, rec in enumerate(records):
        messages = build_messages(rec.question, system_prompt)
        by_step = {lab["step"]: lab for lab in rollout_labels[number]} if rollout_labels is not None else None
        prefix = ""
        for index, step in enumerate(rec.steps):
            prefix += step.text
            if not step.text.strip() or (by_step is not None and index not in by_step):
                continue
            hidden, _ = hidden_state_of(model, messages, prefix)
            rows.append(hidden)
            groups.append(number)
            outcomes.append(1 if rec.correct else 0)
            if by_step is None:
                ys.append(outcomes[-1])
                continue
            lab = by_step[index]
            good.append(int(lab["good"]))
            harmful.append(int(lab["harmful"]))
            ys.append(good[-1] if labels == "rollout" else 1 - harmful[-1])
        if on_record is not None:
            on_record()
    if not rows:
        raise InvalidInputError("the solutions have no steps to learn from")
    extra = {} if rollout_labels is None else {"outcomes": np.asarray(outcomes), "good": np.asarray(good),
                                               "harmful": np.asarray(harmful)}
    return StepData(np.asarray(rows, dtype=np.float64), np.asarray(ys), np.asarray(groups), **extra)


def question_features(records: list[SampleRecord], model, system_prompt: str | None = QWEN_MATH_COT_SYSTEM,
                      on_record=None) -> StepData:
    """One row per solution: the hidden state at the end of the question, before any step
    (what a route reads before solving), labelled with whether the solution is right."""
    rows, ys = [], []
    for rec in records:
        hidden, _ = hidden_state_of(model, build_messages(rec.question, system_prompt), "")
        rows.append(hidden)
        ys.append(1 if rec.correct else 0)
        if on_record is not None:
            on_record()
    if not rows:
        raise InvalidInputError("no questions to learn from")
    problems = {rec.id: number for number, rec in enumerate(records)}
    return StepData(np.asarray(rows, dtype=np.float64), np.asarray(ys),
                    np.asarray([problems[rec.id] for rec in records]))


def _sklearn():
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import GroupKFold
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingPackageError("train-reward needs scikit-learn: pip install 'rewardspec[train]'") from exc
    return LogisticRegression, roc_auc_score, GroupKFold, make_pipeline, StandardScaler


def fit_head(data: StepData, model_name: str, read: str, folds: int = 5,
             provenance: dict[str, Any] | None = None, labels: str = "outcome") -> tuple[ValueHead, dict[str, Any]]:
    """The probe with the best grouped-CV AUROC over ``C_GRID``, refitted on every step."""
    LogisticRegression, roc_auc_score, GroupKFold, make_pipeline, StandardScaler = _sklearn()
    y, groups = data.labels, data.groups
    if len(set(y.tolist())) < 2:
        what = "solution is" if labels in ("outcome", "question") else "step is labelled"
        raise InvalidInputError(f"every {what} {'right' if y[0] else 'wrong'}; a value head needs both "
                                f"(use more problems)")
    folds = min(folds, len(set(groups.tolist())))
    if folds < 2:
        raise InvalidInputError("a value head needs solutions to at least two problems")

    def probe(c: float):
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))

    best: tuple[float, float, np.ndarray] | None = None
    for c in C_GRID:
        oof = np.zeros(len(y))
        for train, test in GroupKFold(n_splits=folds).split(data.features, y, groups):
            if len(set(y[train].tolist())) < 2:
                oof[test] = y[train].mean()
                continue
            oof[test] = probe(c).fit(data.features[train], y[train]).predict_proba(data.features[test])[:, 1]
        score = float(roc_auc_score(y, oof))
        if best is None or score > best[1]:
            best = (c, score, oof)
    c, step_auroc, oof = best
    # A solution is as good as its worst step: RSD rejects at the first low one.
    solution_min = {g: oof[groups == g].min() for g in set(groups.tolist())}
    outcomes = data.outcomes if data.outcomes is not None else y
    solution_label = {g: outcomes[groups == g][0] for g in solution_min}
    keys = sorted(solution_min)
    right = [solution_label[g] for g in keys]

    def area(truth, scores) -> float:
        """AUROC, or NaN where the truth has one class only."""
        return float(roc_auc_score(truth, scores)) if len(set(np.asarray(truth).tolist())) == 2 else float("nan")

    solution_auroc = area(right, [solution_min[g] for g in keys])
    fitted = probe(c).fit(data.features, y)
    scaler, logistic = fitted[0], fitted[1]
    metrics = {"C": c, "folds": folds, "steps": int(len(y)), "solutions": len(keys),
               "positive_steps": int(y.sum()), "right_solutions": int(sum(right)),
               "cv_step_auroc": round(step_auroc, 4), "cv_solution_min_auroc": round(solution_auroc, 4)}
    if labels == "question":
        # One row per solution: the step figures are per question. The solutions' accuracy is
        # the route's break-even threshold (see rewardspec.methods.routing).
        metrics.update({"cv_question_auroc": metrics["cv_step_auroc"], "right_rate": round(float(y.mean()), 4)})
    if data.good is not None and data.harmful is not None:
        # Both rollout criteria, whichever one the probe was fitted on. head:…?advantage=true scores
        # V(after) − V(before); V(before) of a solution's first step (the prompt's end, not among
        # the features) is taken as the mean value here.
        before = np.full(len(oof), oof.mean())
        same = groups[1:] == groups[:-1]
        before[1:][same] = oof[:-1][same]
        metrics.update({"good_steps": int(data.good.sum()), "harmful_steps": int(data.harmful.sum()),
                        "cv_good_auroc": round(area(data.good, oof), 4),
                        "cv_harmless_auroc": round(area(1 - data.harmful, oof), 4),
                        "cv_advantage_harmless_auroc": round(area(1 - data.harmful, oof - before), 4)})
    head = ValueHead(model_name, read, scaler.mean_.astype(np.float64), scaler.scale_.astype(np.float64),
                     logistic.coef_[0].astype(np.float64), float(logistic.intercept_[0]),
                     {**(provenance or {}), "labels": labels, "metrics": metrics})
    return head, metrics


def train_reward(*, dataset: str, ids: str | None, limit: int | None, read: str, draft: str, target: str,
                 methods: list[str], max_tokens: int, work: str, output: str, labels: str = "outcome",
                 data_dir: str | None = None, question_field: str | None = None,
                 answer_field: str | None = None, console=None) -> dict[str, Any]:
    """Write solutions (resumable, under ``work``), read hidden states, fit, save the head."""
    from rich.console import Console
    from rich.progress import Progress

    from rewardspec.eval.datasets import DATASETS, load_dataset
    from rewardspec.eval.runner import Solvers, load_config, read_samples, run_eval

    if read not in READS:
        raise InvalidInputError(f"--read must be one of {', '.join(READS)}; got '{read}'")
    if labels not in LABELS:
        raise InvalidInputError(f"--labels must be one of {', '.join(LABELS)}; got '{labels}'")
    bad = [m for m in methods if m not in ("draft", "target")]
    if bad or not methods:
        raise InvalidInputError(f"--methods writes the training solutions: draft, target or both; got {methods}")
    if labels == "question" and (read != "draft" or methods != ["draft"]):
        raise InvalidInputError("--labels question learns P(the draft solves the question) from the draft's own "
                                "hidden state: use it with --read draft --methods draft (the defaults)")
    name = Path(dataset).stem if dataset.endswith(".jsonl") else dataset
    if ids is None and DATASETS.get(name) and name in DEFAULT_TRAIN_IDS:
        ids = DEFAULT_TRAIN_IDS[name]
    try:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).touch()
    except OSError as exc:
        raise InvalidInputError(f"cannot write the head to {output}: {exc.strerror or exc}") from None
    cfg = load_config(None, {"dataset": dataset, "ids": ids, "limit": limit, "methods": methods,
                             "draft": draft, "target": target, "max_tokens": max_tokens, "output": work,
                             "data_dir": data_dir, "question_field": question_field,
                             "answer_field": answer_field})
    run_eval(cfg, resume=True, console=console)
    examples = {e.id: e for e in load_dataset(dataset, limit=limit, data_directory=data_dir, ids=ids,
                                           question_field=question_field, answer_field=answer_field)}
    # The question as the models saw it (multiple-choice options included), as RSD reads it.
    records = [replace(r, question=format_question(examples[r.id].question, examples[r.id].choices))
               for m in methods for r in read_samples(Path(work) / f"samples-{m}.jsonl") if r.id in examples]
    if not records:
        raise InvalidInputError("no solutions to learn from: check --ids, --limit and the dataset")
    solvers = Solvers(cfg, records[0].dataset)  # one instance of each model for rollouts and reads
    rollout_labels = None
    with Progress(console=console or Console(stderr=True)) as progress:
        if labels in ("rollout", "harmless"):
            rollout_labels = label_records(records, examples, solvers, Path(work) / ROLLOUT_LABELS, progress)
        model = solvers.models.draft if read == "draft" else solvers.models.target
        task = progress.add_task(f"hidden states ({read})", total=len(records))
        if labels == "question":
            data = question_features(records, model, on_record=lambda: progress.advance(task))
        else:
            data = step_features(records, model, on_record=lambda: progress.advance(task),
                                 rollout_labels=rollout_labels, labels=labels)
    provenance = {"dataset": dataset, "ids": ids, "problems": sorted({r.id for r in records}, key=_id_key),
                  "solutions_by": methods, "labels": labels, "draft": draft, "target": target, "max_tokens": max_tokens,
                  "command": " ".join(["rewardspec", *sys.argv[1:]]) if sys.argv else "",
                  "trained": _dt.date.today().isoformat()}
    if rollout_labels is not None:
        provenance["rollouts_by"] = target
    head, metrics = fit_head(data, model.name, read, provenance=provenance, labels=labels)
    head.save(output)
    return metrics


def label_records(records: list[SampleRecord], examples: dict, solvers, path: Path, progress) -> list[list[dict]]:
    """Rollout labels for every record's steps, from (and appended to) ``path``, one line per solution."""
    from rewardspec.rollouts import Roller, label_solution

    settings = {"target": solvers.cfg.target, "max_tokens": solvers.decode.max_tokens,
                "system_prompt": solvers.decode.system_prompt}
    settings_path = path.with_suffix(".json")
    if path.exists() and settings_path.exists() and json.loads(settings_path.read_text()) != settings:
        raise InvalidInputError(f"{path} holds rollout labels made with {settings_path.read_text().strip()}; "
                                f"choose another --work for these settings")
    settings_path.write_text(json.dumps(settings) + "\n")
    stored: dict[tuple[str, str], list[dict]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                stored.setdefault((row["method"], row["id"]), row["steps"])
    todo = [r for r in records if (r.method, r.id) not in stored]
    task = progress.add_task("rollout labels (target)", total=len(records), completed=len(records) - len(todo))
    with open(path, "a", encoding="utf-8") as out:
        for rec in todo:
            roller = Roller(solvers.models.target, solvers.decode, examples[rec.id], rec.dataset)
            steps = label_solution(roller, rec.steps, solvers.decode.max_tokens)
            stored[(rec.method, rec.id)] = steps
            out.write(json.dumps({"id": rec.id, "method": rec.method, "steps": steps,
                                  "rollout_tokens": roller.rollout_tokens}) + "\n")
            out.flush()
            progress.advance(task)
    return [stored[(r.method, r.id)] for r in records]


def _id_key(ident: str) -> tuple[int, str]:
    return (int(ident), "") if ident.isdigit() else (sys.maxsize, ident)
