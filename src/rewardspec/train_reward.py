"""``rewardspec train-reward``: fit a value head for any model pair on any (question, answer) data.

Labels are outcome labels, as in outcome-supervised value models: every step of a
solution is labelled with whether that solution's final answer is right. The solutions
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
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rewardspec.errors import InvalidInputError, MissingPackageError
from rewardspec.prompts import QWEN_MATH_COT_SYSTEM, build_messages
from rewardspec.rewards.value_head import READS, ValueHead, hidden_state_of

#: Problems a head may train on by default, per dataset: never the evaluation problems.
DEFAULT_TRAIN_IDS = {"gsm8k": "700-1318"}
C_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 1.0)
LABELS = ("outcome",)


@dataclass
class StepData:
    features: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    """The problem each step belongs to (for grouped cross-validation)."""


def step_features(records: list[dict[str, Any]], model, system_prompt: str | None = QWEN_MATH_COT_SYSTEM,
                  on_record=None) -> StepData:
    """One row per non-empty step: the hidden state after it; its solution's outcome."""
    rows, labels, groups = [], [], []
    for number, rec in enumerate(records):
        messages = build_messages(rec["question"], system_prompt)
        prefix = ""
        for step in rec["steps"]:
            prefix += step["text"]
            if not step["text"].strip():
                continue
            hidden, _ = hidden_state_of(model, messages, prefix)
            rows.append(hidden)
            labels.append(1 if rec["correct"] else 0)
            groups.append(number)
        if on_record is not None:
            on_record()
    if not rows:
        raise InvalidInputError("the solutions have no steps to learn from")
    return StepData(np.asarray(rows, dtype=np.float64), np.asarray(labels), np.asarray(groups))


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
             provenance: dict[str, Any] | None = None) -> tuple[ValueHead, dict[str, Any]]:
    """The probe with the best grouped-CV AUROC over ``C_GRID``, refitted on every step."""
    LogisticRegression, roc_auc_score, GroupKFold, make_pipeline, StandardScaler = _sklearn()
    y, groups = data.labels, data.groups
    if len(set(y.tolist())) < 2:
        raise InvalidInputError(
            f"every solution is {'right' if y[0] else 'wrong'}; a value head needs both (use more problems)")
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
    solution_label = {g: y[groups == g][0] for g in solution_min}
    keys = sorted(solution_min)
    labels = [solution_label[g] for g in keys]
    solution_auroc = (float(roc_auc_score(labels, [solution_min[g] for g in keys]))
                      if len(set(labels)) == 2 else float("nan"))
    fitted = probe(c).fit(data.features, y)
    scaler, logistic = fitted[0], fitted[1]
    metrics = {"C": c, "folds": folds, "steps": int(len(y)), "solutions": len(keys),
               "positive_steps": int(y.sum()), "right_solutions": int(sum(labels)),
               "cv_step_auroc": round(step_auroc, 4), "cv_solution_min_auroc": round(solution_auroc, 4)}
    head = ValueHead(model_name, read, scaler.mean_.astype(np.float64), scaler.scale_.astype(np.float64),
                     logistic.coef_[0].astype(np.float64), float(logistic.intercept_[0]),
                     {**(provenance or {}), "labels": "outcome", "metrics": metrics})
    return head, metrics


def train_reward(*, dataset: str, ids: str | None, limit: int | None, read: str, draft: str, target: str,
                 methods: list[str], max_tokens: int, work: str, output: str, labels: str = "outcome",
                 data_dir: str | None = None, question_field: str | None = None,
                 answer_field: str | None = None, console=None) -> dict[str, Any]:
    """Write solutions (resumable, under ``work``), read hidden states, fit, save the head."""
    from rich.console import Console
    from rich.progress import Progress

    from rewardspec.eval.datasets import DATASETS, load_dataset
    from rewardspec.eval.runner import load_config, run_eval

    if read not in READS:
        raise InvalidInputError(f"--read must be one of {', '.join(READS)}; got '{read}'")
    if labels not in LABELS:
        raise InvalidInputError(f"--labels must be one of {', '.join(LABELS)}; got '{labels}'")
    bad = [m for m in methods if m not in ("draft", "target")]
    if bad or not methods:
        raise InvalidInputError(f"--methods writes the training solutions: draft, target or both; got {methods}")
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
    from rewardspec.eval.runner import read_samples

    records = [r.to_dict() for m in methods for r in read_samples(Path(work) / f"samples-{m}.jsonl")]
    examples = {e.id for e in load_dataset(dataset, limit=limit, data_directory=data_dir, ids=ids,
                                           question_field=question_field, answer_field=answer_field)}
    records = [r for r in records if r["id"] in examples]
    from rewardspec.models import load_model

    model = load_model(draft if read == "draft" else target)
    with Progress(console=console or Console(stderr=True)) as progress:
        task = progress.add_task(f"hidden states ({read})", total=len(records))
        data = step_features(records, model, on_record=lambda: progress.advance(task))
    provenance = {"dataset": dataset, "ids": ids, "problems": sorted({r["id"] for r in records}, key=_id_key),
                  "solutions_by": methods, "draft": draft, "target": target, "max_tokens": max_tokens,
                  "command": " ".join(["rewardspec", *sys.argv[1:]]) if sys.argv else "",
                  "trained": _dt.date.today().isoformat()}
    head, metrics = fit_head(data, model.name, read, provenance=provenance)
    head.save(output)
    return metrics


def _id_key(ident: str) -> tuple[int, str]:
    return (int(ident), "") if ident.isdigit() else (sys.maxsize, ident)
