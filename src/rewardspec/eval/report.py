"""``rewardspec report RUN_DIR``: an eval or sweep run as one HTML page a user can look at.

To see what RSD did on a question a user would otherwise read JSONL. This module reads a run
directory (samples, ``summary.json``, plots) into a :class:`Run`; :mod:`report_html` turns it
into the page. Reading never writes: a report may be made of a run that is still being
written, so a torn last line is skipped here, not cut off as ``runner.read_samples`` does
when it resumes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewardspec.errors import InvalidInputError
from rewardspec.eval.records import SampleRecord
from rewardspec.eval.runner import RUN_FILE
from rewardspec.methods.table import METHODS

SAMPLES_GLOB = "samples-*.jsonl"
PLOTS = ("accuracy_vs_flops.png", "sweep.png")
"""The plots ``eval`` and ``sweep`` write, in the order the page shows them."""
_SWEEP_FILE = re.compile(r"^rsd-delta(?P<delta>.+)$")


@dataclass
class MethodSamples:
    """One samples file: the method's name as ``summary.json`` spells it, and its records."""

    name: str
    path: Path
    records: list[SampleRecord]


@dataclass
class Question:
    """One question across methods: what was asked, the gold answer, and each method's sample."""

    id: str
    question: str
    gold: str
    level: Any
    samples: dict[str, SampleRecord] = field(default_factory=dict)


@dataclass
class Run:
    """What a run directory holds, read once."""

    directory: Path
    methods: list[MethodSamples]
    summary: dict[str, Any]
    """``summary.json`` as written, or metrics computed from the samples where it is absent."""
    summary_from_samples: bool
    """True when the run has no ``summary.json`` (interrupted): the metrics were computed here."""
    plots: dict[str, bytes]

    @property
    def questions(self) -> list[Question]:
        """Every question any method answered, in the order the samples first name them."""
        by_id: dict[str, Question] = {}
        for method in self.methods:
            for r in method.records:
                q = by_id.setdefault(str(r.id), Question(str(r.id), r.question, r.gold, r.level))
                q.samples[method.name] = r
        return list(by_id.values())


def method_name(path: Path) -> str:
    """``samples-rsd.jsonl`` -> ``rsd``; a sweep's ``samples-rsd-delta0.7.jsonl`` -> ``rsd@0.7``,
    the name ``summary.json`` gives it."""
    stem = path.name[len("samples-"):-len(".jsonl")]
    sweep = _SWEEP_FILE.match(stem)
    return f"rsd@{sweep['delta']}" if sweep else stem


def read_records(path: Path) -> list[SampleRecord]:
    """The samples in ``path``, read-only: a torn last line (a run still writing, or interrupted)
    is left out, a bad line before the last is an error, and a repeated id keeps its first record."""
    lines = path.read_bytes().splitlines(keepends=True)
    records: dict[str, SampleRecord] = {}
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            record = SampleRecord.from_dict(json.loads(raw))
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
            if number == len(lines) and not raw.endswith(b"\n"):
                break  # the line being written
            raise InvalidInputError(f"{path}:{number} is not a sample record ({type(exc).__name__}: {exc})") from None
        records.setdefault(str(record.id), record)
    return list(records.values())


def _read_summary(path: Path) -> dict[str, Any]:
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path} is not valid JSON ({exc}); rerun the eval with --resume to rewrite it") from None
    if not isinstance(summary, dict):
        raise InvalidInputError(f"{path} is not a run summary (a JSON object with 'methods')")
    return summary


def _summary_from_samples(methods: list[MethodSamples]) -> dict[str, Any]:
    from rewardspec.eval.metrics import summarize

    return {"methods": {m.name: summarize(m.records).to_dict() for m in methods}}


def _order(files: list[Path], summary: dict[str, Any], run_file: Path) -> list[Path]:
    """Samples files in the order the run ran them: as the summary lists its methods, else as
    ``run.json`` records their files (an interrupted run), else in the methods table's order."""
    if summary.get("methods"):
        listed = list(summary["methods"])
    else:
        try:
            recorded = json.loads(run_file.read_text(encoding="utf-8")) if run_file.is_file() else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            recorded = {}
        listed = [method_name(Path(f)) for f in recorded] if isinstance(recorded, dict) else []
    listed += [m for m in METHODS if m not in listed]
    rank = {name: i for i, name in enumerate(listed)}
    return sorted(files, key=lambda p: (rank.get(method_name(p), len(listed)), p.name))


def load_run(directory: str | Path) -> Run:
    """Read a run directory written by ``rewardspec eval`` or ``sweep``; a directory that is not
    one, or holds no samples, is a one-line error naming what is missing."""
    run_dir = Path(directory)
    if not run_dir.is_dir():
        what = "does not exist" if not run_dir.exists() else "is not a directory"
        raise InvalidInputError(f"{run_dir} {what}; pass the --output directory of a rewardspec eval or sweep run")
    files = sorted(run_dir.glob(SAMPLES_GLOB))
    summary_path = run_dir / "summary.json"
    if not files and not summary_path.exists():
        raise InvalidInputError(f"{run_dir} is not a run directory: it has no {SAMPLES_GLOB} and no summary.json "
                                "(write one with rewardspec eval --output DIR)")
    summary = _read_summary(summary_path) if summary_path.exists() else {}
    methods = [MethodSamples(method_name(p), p, read_records(p)) for p in _order(files, summary, run_dir / RUN_FILE)]
    methods = [m for m in methods if m.records]
    if not methods:
        raise InvalidInputError(f"{run_dir} holds no samples: every {SAMPLES_GLOB} is missing or empty "
                                "(the run finished no question yet)")
    from_samples = not summary.get("methods")
    if from_samples:
        summary = {**summary, **_summary_from_samples(methods)}
    plots = {name: (run_dir / name).read_bytes() for name in PLOTS if (run_dir / name).is_file()}
    return Run(run_dir, methods, summary, from_samples, plots)


def write_report(directory: str | Path, output: str | Path | None = None) -> tuple[Path, Run]:
    """Render ``directory``'s run to ``output`` (default ``RUN_DIR/report.html``); the path and the run."""
    from rewardspec.eval.report_html import render

    run = load_run(directory)
    path = Path(output) if output is not None else run.directory / "report.html"
    page = render(run)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot write the report to {path}: {exc.strerror or exc}") from None
    return path, run
