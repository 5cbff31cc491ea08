"""Run directories for the report tests, written as ``rewardspec eval`` writes them, without models.

Each question's verdicts follow a fixed pattern, so a test knows which questions a filter
must show: RSD is wrong where i % 3 == 1, the target right where i is even, the draft right
where i % 5 == 0. Question 0's model text tries to run script; the page must show it as text.
"""

from __future__ import annotations

import json
from pathlib import Path

from html_tree import Node, parse

from rewardspec.eval.records import SampleRecord
from rewardspec.eval.report import write_report
from rewardspec.types import DecodeStats, ModelUsage, RejectedDraft, Step

METHODS = ("rsd", "target", "draft")
XSS = "<script>window.__xss = 1</script><img src=x onerror=\"window.__xss = 2\">"
REJECTED = "So the answer is surely 999."


def correct(method: str, i: int) -> bool:
    return {"rsd": i % 3 != 1, "target": i % 2 == 0, "draft": i % 5 == 0}[method]


def rsd_wrong_target_right(n: int) -> list[str]:
    """The ids the filter "rsd wrong, target right" must leave shown."""
    return [str(i) for i in range(n) if not correct("rsd", i) and correct("target", i)]


def question(i: int) -> str:
    return f"Q{i}: what is {i} + {i}? <b>bold</b> & more"


def _steps(method: str, i: int, answer: str) -> list[Step]:
    evil = XSS if i == 0 else ""
    if method == "rsd":
        return [Step(f"First, {i} + {i}.{evil}\n\n", "draft", 0.91, 7),
                Step(f"That makes {2 * i}.\n\n", "target", None, 5,
                     RejectedDraft(REJECTED, 0.12, 8)),
                Step("Looping step rewritten.\n\n", "target", None, 4,
                     RejectedDraft("again again again", None, 64, degenerate=True)),
                Step(f"\\boxed{{{answer}}}", "draft", None, 3)]
    return [Step(f"{method} thinks {evil}\n\n", method, None, 6), Step(f"\\boxed{{{answer}}}", method, None, 3)]


def record(method: str, i: int) -> SampleRecord:
    answer = str(2 * i) if correct(method, i) else str(2 * i + 1)
    steps = _steps(method, i, answer)
    usage = {"draft": ModelUsage(params=10, generated_tokens=20), "target": ModelUsage(params=100, generated_tokens=9),
             "reward": ModelUsage()}
    stats = DecodeStats(drafted=3, accepted=1, rejected=1, degenerate=1) if method == "rsd" else DecodeStats()
    return SampleRecord(id=str(i), dataset="gsm8k", question=question(i), gold=str(2 * i), answer=answer,
                        correct=correct(method, i), steps=steps, usage=usage, wall_seconds=0.5,
                        response="".join(s.text for s in steps), method=method,
                        delta=0.7 if method == "rsd" else None, finish_reason="eos", level=1 + i % 5, stats=stats)


def write_run(directory: Path, n: int, summary_extra: dict | None = None, with_summary: bool = True) -> Path:
    """A run of ``n`` questions by rsd, target and draft: samples, summary.json and a plot."""
    from rewardspec.eval.metrics import summarize
    from rewardspec.eval.plots import accuracy_vs_flops

    directory.mkdir(parents=True, exist_ok=True)
    records = {m: [record(m, i) for i in range(n)] for m in METHODS}
    for m, rs in records.items():
        (directory / f"samples-{m}.jsonl").write_text(
            "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in rs), encoding="utf-8")
    metrics = {m: summarize(rs) for m, rs in records.items()}
    if with_summary:
        summary = {"methods": {m: x.to_dict() for m, x in metrics.items()},
                   "config": {"dataset": "gsm8k", "methods": list(METHODS), "delta": 0.7}, **(summary_extra or {})}
        (directory / "summary.json").write_text(json.dumps(summary, indent=2))
    accuracy_vs_flops(metrics, directory / "accuracy_vs_flops.png", "fake run")
    return directory


def page_and_bodies(run_dir: Path) -> tuple[Node, list[Node]]:
    """The page, and each question's lazily inserted details parsed as the script would insert them."""
    path, _ = write_report(run_dir)
    page = parse(path.read_text(encoding="utf-8"))
    [blob] = [s for s in page.find_all("script") if s.attrs.get("type") == "application/json"]
    data = json.loads(blob.text)
    assert data["methods"] == list(METHODS)
    return page, [parse(b) for b in data["bodies"]]
