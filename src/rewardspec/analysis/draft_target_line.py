"""Rows of accuracy and cost against the line from the draft alone to the target alone.

RSD only pays off where it beats mixing the two models at the same FLOPs. That mix is the
straight line from (F_draft, acc_draft) to (F_target, acc_target); a row's *gain* is how far
above it the row lies. Every comparison benchmark (candidates, question routes, the step
oracle) reports its rows this way, so the figures come from one place:

* :func:`run_row` sums one run's recorded samples into a row;
* :func:`cascade` composes a question-level cascade from recorded draft and target runs;
* :func:`add_line_row` prints a row with its gain and its ratios to the target.

A row is a plain dict because it is written to JSON as it is: ``n``, ``accuracy``, FLOPs
per question in three conventions (``flops``, ``flops_with_prompt``, ``flops_paper``), the
total ``wall`` seconds and ``kept``, the share of judged draft steps kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.table import Table

from rewardspec.eval.records import SampleRecord
from rewardspec.types import DecodeStats, flops_paper

Row = dict[str, Any]


def line_gain(acc: float, flops: float, draft: tuple[float, float], target: tuple[float, float]) -> float:
    """Accuracy above the straight line from (F_draft, acc_draft) to (F_target, acc_target)."""
    (fd, ad), (ft, at) = draft, target
    return acc - (ad + (flops - fd) / (ft - fd) * (at - ad))


def kept_share(records: Iterable[SampleRecord]) -> float:
    """Of the draft steps a reward judged, the share the rule kept, as RSD counted them while
    decoding (``SampleRecord.stats``); NaN where nothing was judged (a single model's run)."""
    stats = sum((r.stats for r in records), DecodeStats())
    return stats.accepted / stats.judged if stats.judged else float("nan")


def run_row(records: list[SampleRecord]) -> Row:
    """One run's row: accuracy, FLOPs per question in the three conventions, total wall time
    and the share of judged draft steps kept."""
    n = len(records)
    return {"n": n, "accuracy": sum(r.correct for r in records) / n,
            "flops": sum(r.flops for r in records) / n,
            "flops_with_prompt": sum(r.flops_with_prompt for r in records) / n,
            "flops_paper": sum(flops_paper(r.usage) for r in records) / n,
            "wall": sum(r.wall_seconds for r in records),
            "kept": kept_share(records)}


def cascade(draft: Mapping[str, SampleRecord], target: Mapping[str, SampleRecord], flagged: Mapping[str, bool],
            reward_flops: Mapping[str, float]) -> Row:
    """Draft first, the target's own solution for the flagged problems, over the problems all
    three share. Greedy runs repeat, so the recorded runs give what such a cascade would.

    Costs: the draft's solution and the reward's calls on every problem (``reward_flops`` per
    problem, ours and with prompts alike), the target's solution where flagged; the paper's
    convention charges no reward here, as the recorded runs made no reward calls. ``kept`` is
    the share of questions the draft's answer stands for.
    """
    ids = [i for i in draft if i in target and i in flagged]
    n = len(ids)
    acc = sum(target[i].correct if flagged[i] else draft[i].correct for i in ids) / n
    cost = {k: sum(getattr(draft[i], k) + reward_flops.get(i, 0.0) + (getattr(target[i], k) if flagged[i] else 0.0)
                   for i in ids) / n for k in ("flops", "flops_with_prompt")}
    paper = sum(flops_paper(draft[i].usage) + (flops_paper(target[i].usage) if flagged[i] else 0.0)
                for i in ids) / n
    wall = sum(draft[i].wall_seconds + (target[i].wall_seconds if flagged[i] else 0.0) for i in ids)
    return {"n": n, "accuracy": acc, "flops": cost["flops"], "flops_with_prompt": cost["flops_with_prompt"],
            "flops_paper": paper, "wall": wall, "kept": 1 - sum(flagged[i] for i in ids) / n}


def line_table(title: str) -> Table:
    """The side-by-side table every row against the draft–target line goes into."""
    table = Table(title=title)
    for col in ("method", "reward @ δ", "accuracy", "gain (pts)", "FLOPs ÷ target", "+prompt ÷ t",
                "paper ÷ t", "wall ÷ t", "steps kept", "≥90% acc at ≤75% FLOPs"):
        table.add_column(col, justify="left" if col in ("method", "reward @ δ") else "right")
    return table


def add_line_row(table: Table, name: str, described: str, row: Row, base: Mapping[str, Row],
                 kept: str | None) -> Row:
    """One row: its gain over the line and its ratios to the target; ``kept`` None marks a baseline
    (no kept share, no goal test). Returns the row with those figures, for the JSON.

    The goal test is the project's: accuracy at least 90% of the target's at no more than 75%
    of its FLOPs (ours).
    """
    t, d = base["target"], base["draft"]
    gain = line_gain(row["accuracy"], row["flops"], (d["flops"], d["accuracy"]), (t["flops"], t["accuracy"]))
    ratio = {k: row[k] / t[k] for k in ("flops", "flops_with_prompt", "flops_paper", "wall")}
    goal = row["accuracy"] >= 0.9 * t["accuracy"] and ratio["flops"] <= 0.75
    table.add_row(name, described, f"{row['accuracy']:.1%}", f"{100 * gain:+.1f}", f"{ratio['flops']:.2f}x",
                  f"{ratio['flops_with_prompt']:.2f}x", f"{ratio['flops_paper']:.2f}x", f"{ratio['wall']:.2f}x",
                  "-" if kept is None else kept, "-" if kept is None else ("yes" if goal else "no"))
    return {**row, "gain": gain, "ratio_to_target": ratio, "goal_90_75": goal}
