"""``rewardspec eval`` and ``sweep``: run methods over a dataset and keep every sample.

Each finished sample is appended to ``samples-METHOD.jsonl`` and flushed at
once, so an interrupted run loses at most the sample in flight; ``--resume``
skips the ids already written (and drops a torn last line), and metrics are
always computed from the files, so nothing is counted twice.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, field_validator
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rewardspec.build import Models, SolverSettings, build_solver
from rewardspec.settings import describe_problems
from rewardspec.config_files import read_settings
from rewardspec.errors import InvalidInputError
from rewardspec.eval.datasets import Example, load_dataset
from rewardspec.eval.metrics import compare, markdown_table, summarize
from rewardspec.eval.records import MethodMetrics, SampleRecord
from rewardspec.eval.plots import accuracy_vs_flops, sweep_plot
from rewardspec.grading import grade
from rewardspec.methods.acceptance import check_delta
from rewardspec.methods.table import METHODS
from rewardspec.prompts import SYSTEM_PROMPTS, format_question
from rewardspec.provenance import provenance
from rewardspec.types import Trace

# What every method's samples depend on, besides its own settings (methods.table). A resumed
# run must match these, or it would silently mix samples made under different settings.
_SHARED_SETTINGS = ("dataset", "prompt", "max_tokens", "max_total_tokens", "repetition_limit", "seed",
                    "question_field", "answer_field", "top_p", "max_steps", "separator")
RUN_FILE = "run.json"


class EvalConfig(SolverSettings):
    """Everything a run depends on; saved in summary.json and loadable from --config."""

    model_config = ConfigDict(extra="forbid")

    dataset: str
    limit: int | None = Field(None, ge=1)
    ids: str | None = None
    levels: str | None = None
    """Only problems of these difficulty levels, e.g. "1-3" (MATH500)."""
    methods: list[str] = Field(default_factory=lambda: ["rsd", "target", "draft"])
    max_tokens: int = Field(1024, ge=1)
    max_total_tokens: int | None = None
    seed: int = 0
    prompt: str = "qwen25-math-cot"
    data_dir: str | None = None
    question_field: str | None = None
    answer_field: str | None = None
    output: str = "runs/eval"
    concurrency: int = Field(1, ge=1, le=1024)
    """Questions in flight at once (remote engines); not a setting samples depend on."""

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError(f"no methods; choose from {', '.join(METHODS)}")
        unknown = [m for m in value if m not in METHODS]
        if unknown:
            raise ValueError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
        return value


def load_config(path: str | None, overrides: dict[str, Any]) -> EvalConfig:
    """Merge a YAML/JSON config file with command-line values (the command line wins)."""
    from pydantic import ValidationError

    data: dict[str, Any] = read_settings(path, "eval config") if path else {}
    data.update({k: v for k, v in overrides.items() if v is not None})
    if not data.get("dataset"):
        raise InvalidInputError("no dataset: pass --dataset NAME_OR_PATH (or set dataset in --config)")
    try:
        return EvalConfig(**data)
    except ValidationError as exc:
        raise InvalidInputError(f"config: {describe_problems(exc)}") from None


class Solvers:
    """Builds each method on demand (through the composition root), sharing the loaded models."""

    def __init__(self, cfg: EvalConfig, dataset: str) -> None:
        self.cfg = cfg
        self.dataset = dataset
        self.decode = cfg.decode_config(max_tokens=cfg.max_tokens, seed=cfg.seed,
                                        max_total_tokens=cfg.max_total_tokens,
                                        system_prompt=SYSTEM_PROMPTS[cfg.prompt])
        self.models = Models(cfg)
        self.sample_cache: dict = {}  # best_of_n and majority draw the same samples once per run

    def build(self, method: str, delta: float | None = None):
        return build_solver(method, self.cfg, self.decode, self.models, delta=delta, dataset=self.dataset,
                            sample_cache=self.sample_cache)


def method_settings(cfg: EvalConfig, method: str, delta: float | None = None) -> dict[str, Any]:
    """The config values ``method``'s samples depend on (``delta`` overrides, as in a sweep)."""
    values = cfg.model_dump()
    if delta is not None:
        values["delta"] = delta
    return {"method": method, **{k: values[k] for k in _SHARED_SETTINGS + METHODS[method].settings}}


# Settings a run recorded before 0.2.0 did not have, and the value every such run used.
_ADDED_IN_0_2 = {"top_p": 1.0, "max_steps": 64, "separator": "\n\n", "temperature": 0.0}
# Settings a method recorded before 0.2.0 that no longer bear on it, and the value that meant
# nothing changed (sd was always greedy, whatever its temperature said).
_RETIRED_IN_0_2 = {"temperature": 0.0}


def _as_recorded_now(before: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """An older run's recorded settings in today's keys: an added setting at the value those
    runs used, a retired one dropped where it held the value that made no difference."""
    now = {k: v for k, v in before.items()
           if k in settings or k not in _RETIRED_IN_0_2 or v != _RETIRED_IN_0_2[k]}
    return {**{k: v for k, v in _ADDED_IN_0_2.items() if k in settings and k not in before}, **now}


def check_settings(path: Path, settings: dict[str, Any], has_samples: bool) -> None:
    """Refuse to add samples to ``path`` made under other settings; remember them otherwise.

    The settings live in ``run.json`` beside the samples, keyed by file name.
    Files written before it existed are adopted as they are.
    """
    run_file = path.parent / RUN_FILE
    stored = json.loads(run_file.read_text()) if run_file.exists() else {}
    before = stored.get(path.name)
    if before is not None:
        before = _as_recorded_now(before, settings)
    if has_samples and before is not None and before != settings:
        changed = ", ".join(f"{k}={before[k]!r} (now {settings.get(k)!r})" if k in before
                            else f"no {k} (a setting newer than that run; now {settings.get(k)!r})"
                            for k in sorted(set(before) | set(settings))
                            if k not in before or k not in settings or before[k] != settings[k])
        raise InvalidInputError(
            f"{path} was written with {changed}; resume with the same settings or choose another --output"
        )
    if before != settings:
        stored[path.name] = settings
        run_file.write_text(json.dumps(stored, indent=2))


def finished_samples(path: Path, resume: bool, settings: dict[str, Any] | None) -> list[SampleRecord]:
    """The samples a run may build on: none for a fresh run (which must not overwrite any), else those in ``path``."""
    if path.exists() and not resume and path.stat().st_size:
        raise InvalidInputError(
            f"{path} already holds samples; pass --resume to continue that run or choose another --output"
        )
    records = read_samples(path) if resume else []
    if settings is not None:
        check_settings(path, settings, bool(records))
    return records


def read_samples(path: Path) -> list[SampleRecord]:
    """Finished samples in ``path``; a torn last line (interrupted write) is cut off."""
    if not path.exists():
        return []
    records, good_bytes = [], 0
    with open(path, "rb") as fh:
        for raw in fh:
            try:
                records.append(json.loads(raw))
            except (json.JSONDecodeError, UnicodeDecodeError):
                break
            good_bytes += len(raw)
    if good_bytes != path.stat().st_size:
        with open(path, "r+b") as fh:
            fh.truncate(good_bytes)
    seen, unique = set(), []
    for r in records:
        if r["id"] not in seen:
            seen.add(r["id"])
            unique.append(SampleRecord.from_dict(r))
    return unique


def make_record(example: Example, trace: Trace, dataset: str) -> SampleRecord:
    asked = format_question(example.question, example.choices)  # its options, as the model saw them
    answer, correct = grade(trace.text, example.gold, dataset, asked)  # the answer that was graded
    return SampleRecord(
        id=example.id, dataset=dataset, question=example.question, gold=example.gold, answer=answer,
        correct=correct, level=example.meta.get("level"), response=trace.text, method=trace.method,
        delta=trace.delta, steps=trace.steps, usage=trace.usage, stats=trace.stats,
        finish_reason=trace.finish_reason, wall_seconds=trace.wall_seconds, route=trace.route,
    )


def run_method(name: str, solver, examples: list[Example], path: Path, dataset: str,
               resume: bool, progress: Progress, settings: dict[str, Any] | None = None,
               concurrency: int = 1) -> list[SampleRecord]:
    """Solve every example not yet in ``path``, appending each record as it finishes.

    With ``concurrency`` above 1, that many questions are in flight at once, each
    in its own thread with its own step loop (worth it for remote engines, which
    batch what arrives together). Records are written by this thread alone, in
    the order they finish. When a question fails, no new one starts, those in
    flight are finished and written, and then the error is raised: ``--resume``
    picks up exactly the questions that have no record.
    """
    records = finished_samples(path, resume, settings)
    done = {r.id for r in records}
    correct = sum(r.correct for r in records)
    todo = [e for e in examples if e.id not in done]
    task = progress.add_task(name, total=len(examples), completed=len(examples) - len(todo),
                             acc=_acc(correct, len(records)))

    def solve(example: Example) -> SampleRecord:
        return make_record(example, solver.solve(format_question(example.question, example.choices)), dataset)

    with open(path, "a", encoding="utf-8") as fh:

        def write(record: SampleRecord) -> None:
            nonlocal correct
            fh.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            records.append(record)
            correct += record.correct
            progress.update(task, advance=1, acc=_acc(correct, len(records)))

        if concurrency <= 1:
            for example in todo:
                write(solve(example))
        else:
            _solve_concurrently(solve, todo, concurrency, write)
    wanted = {e.id for e in examples}
    return [r for r in records if r.id in wanted]


def _solve_concurrently(solve: Callable[[Example], SampleRecord], todo: list[Example], concurrency: int,
                        write: Callable[[SampleRecord], None]) -> None:
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    pending, failure = iter(todo), None
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="eval")
    running = {pool.submit(solve, e) for e in itertools.islice(pending, concurrency)}
    try:
        while running:
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                try:
                    write(future.result())
                except Exception as exc:  # keep the others' work; raise the first failure at the end
                    failure = failure or exc
                if failure is None:
                    running |= {pool.submit(solve, e) for e in itertools.islice(pending, 1)}
    except KeyboardInterrupt:
        for future in running:  # what has finished is written; the rest is left to --resume
            if future.done() and future.exception() is None:
                write(future.result())
        raise
    finally:
        pool.shutdown(wait=not running, cancel_futures=True)
    if failure is not None:
        raise failure


def _acc(correct: int, n: int) -> str:
    return f"acc {100 * correct / n:5.1f}%" if n else "acc    - "


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description:>18}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[acc]}"), TimeElapsedColumn(), console=console)


def _write_summary(out: Path, methods: dict[str, MethodMetrics], cfg: EvalConfig, extra: dict | None = None) -> None:
    import sys

    used = {role for name in cfg.methods for role in METHODS[name].roles if role in ("draft", "target")}
    command = " ".join(["rewardspec", *sys.argv[1:]]) if Path(sys.argv[0]).name == "rewardspec" else None
    summary = {"methods": {name: m.to_dict() for name, m in methods.items()}, "config": cfg.model_dump(),
               **(extra or {}),
               "provenance": provenance({role: getattr(cfg, role) for role in sorted(used)}, command)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    prov = summary["provenance"]
    made = (f"rewardspec {prov['rewardspec']}, commit {(prov.get('commit') or 'unknown')[:12]}"
            f"{' (with local changes)' if prov.get('dirty') else ''}; {prov['machine'].get('cpu') or 'unknown CPU'}, "
            f"{prov['machine'].get('cores')} cores; {prov['date']}. Intervals are 95%: Wilson's for an accuracy, "
            "a paired bootstrap against the target.")
    (out / "summary.md").write_text(
        f"# {cfg.dataset}: {next(iter(methods.values())).n} questions\n\n{made}\n\n" + markdown_table(methods)
    )


def _prepare(cfg: EvalConfig) -> tuple[list[Example], str, Path, Solvers]:
    examples = load_dataset(cfg.dataset, limit=cfg.limit, data_directory=cfg.data_dir,
                            question_field=cfg.question_field, answer_field=cfg.answer_field, ids=cfg.ids,
                            levels=cfg.levels)
    out = Path(cfg.output)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"cannot write the output directory {out}: {exc.strerror or exc}") from None
    return examples, examples[0].dataset, out, Solvers(cfg, examples[0].dataset)


Job = tuple[str, dict[str, Any], Callable[[], Any]]  # samples file, settings, how to build the solver


def _run_jobs(jobs: dict[str, Job], examples: list[Example], dataset: str, out: Path,
              resume: bool, console: Console, concurrency: int = 1) -> dict[str, MethodMetrics]:
    """Check every job's settings, build every solver, then run them in turn; metrics come from the files.

    Checking and building come first so that a mismatch or a bad combination
    fails before hours of work, not after.
    """
    for filename, settings, _ in jobs.values():
        finished_samples(out / filename, resume, settings)
    solvers = {name: build() for name, (_, _, build) in jobs.items()}
    records: dict[str, list[SampleRecord]] = {}
    with _progress(console) as progress:
        for name, (filename, settings, _) in jobs.items():
            records[name] = run_method(name, solvers[name], examples, out / filename, dataset,
                                       resume, progress, settings, concurrency)
    methods = {name: summarize(rs) for name, rs in records.items()}
    if "target" in records:  # every figure against the quality baseline, on the same problems
        for name, metrics in methods.items():
            if name != "target":
                metrics.vs_target = compare(records[name], records["target"])
    return methods


def run_eval(cfg: EvalConfig, resume: bool = False, console: Console | None = None) -> dict[str, MethodMetrics]:
    examples, dataset, out, solvers = _prepare(cfg)
    jobs: dict[str, Job] = {name: (f"samples-{name}.jsonl", method_settings(cfg, name), partial(solvers.build, name))
                            for name in cfg.methods}
    methods = _run_jobs(jobs, examples, dataset, out, resume, console or Console(stderr=True), cfg.concurrency)
    _write_summary(out, methods, cfg)
    accuracy_vs_flops(methods, out / "accuracy_vs_flops.png",
                      f"{cfg.dataset}, {len(examples)} questions: accuracy vs FLOPs")
    return methods


def run_sweep(cfg: EvalConfig, deltas: list[float], resume: bool = False,
              console: Console | None = None) -> dict[str, MethodMetrics]:
    """RSD at each δ plus target and draft, with one plot of accuracy and FLOPs against δ."""
    for d in deltas:
        check_delta(d)
    examples, dataset, out, solvers = _prepare(cfg)
    jobs: dict[str, Job] = {name: (f"samples-{name}.jsonl", method_settings(cfg, name), partial(solvers.build, name))
                            for name in ("target", "draft")}
    jobs.update({f"rsd@{d:g}": (f"samples-rsd-delta{d:g}.jsonl", method_settings(cfg, "rsd", d),
                                partial(solvers.build, "rsd", d)) for d in deltas})
    methods = _run_jobs(jobs, examples, dataset, out, resume, console or Console(stderr=True), cfg.concurrency)
    _write_summary(out, methods, cfg, {"deltas": deltas})
    title = f"{cfg.dataset}, {len(examples)} questions"
    sweep_plot(deltas, [methods[f"rsd@{d:g}"] for d in deltas],
               {k: methods[k] for k in ("target", "draft")}, out / "sweep.png", f"{title}: RSD vs δ")
    accuracy_vs_flops(methods, out / "accuracy_vs_flops.png", f"{title}: accuracy vs FLOPs")
    return methods
