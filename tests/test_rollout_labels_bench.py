"""benchmarks/rollout_labels.py's logic (rewardspec.analysis.step_labels): the labelled steps it
reads and the head table it prints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from rewardspec.analysis.step_labels import head_table, labelled_steps
from rewardspec.eval.datasets import Example
from rewardspec.eval.runner import make_record
from rewardspec.rewards.value_head import ValueHead
from rewardspec.types import Step, Trace


def write_work(tmp_path: Path) -> Path:
    trace = Trace("What is 2 + 2?", "draft", [Step("Add.\n\n", "draft", None, 2), Step("\n\n", "draft", None, 1),
                                                   Step("So \\boxed{5}", "draft", None, 3)])
    record = make_record(Example("700", "What is 2 + 2?", "4", "gsm8k"), trace, "gsm8k")
    (tmp_path / "samples-draft.jsonl").write_text(json.dumps(record.to_dict()) + "\n")
    rows = [{"id": "700", "method": "target", "steps": [{"step": 0, "good": True}]},  # not the draft's
            {"id": "700", "method": "draft", "steps": [
                {"step": 0, "good": True, "solvable_before": True, "harmful": False},
                {"step": 2, "good": False, "solvable_before": True, "harmful": True}]},
            {"id": "999", "method": "draft", "steps": []}]  # no such record here
    (tmp_path / "rollout-labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def test_labelled_steps_carry_the_draft_step_text_and_skip_other_solutions(tmp_path):
    by_id, records = labelled_steps(write_work(tmp_path))
    assert list(by_id) == ["700"] and list(records) == ["700"]
    assert [(s["step"], s["text"], s["harmful"]) for s in by_id["700"]] == [(0, "Add.\n\n", False),
                                                                             (2, "So \\boxed{5}", True)]
    assert all(s["rewards"] == {} for s in by_id["700"])


def test_missing_labels_say_which_command_makes_them(tmp_path):
    (tmp_path / "samples-draft.jsonl").write_text("")
    with pytest.raises(SystemExit, match="train-reward --labels harmless"):
        labelled_steps(tmp_path)


def test_head_table_reports_the_stored_cross_validated_aurocs(tmp_path):
    metrics = {"steps": 274, "cv_good_auroc": 0.61, "cv_harmless_auroc": 0.7234, "cv_solution_min_auroc": 0.66,
               "cv_advantage_harmless_auroc": 0.6871}
    head = ValueHead("m", "draft", np.zeros(2), np.ones(2), np.ones(2), 0.0,
                     {"labels": "harmless", "metrics": metrics})
    head.save(tmp_path / "h.json")
    console = Console(width=200, record=True)
    console.print(head_table([str(tmp_path / "h.json")]))
    text = console.export_text()
    assert "h.json" in text and "harmless" in text and "274" in text
    assert "0.61" in text and "0.72" in text and "0.66" in text and "0.69" in text
