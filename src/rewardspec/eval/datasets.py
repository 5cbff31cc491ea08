"""Benchmark datasets: by name from a local JSONL directory or the hub, or any JSONL path.

Local files follow the Qwen2.5-Math evaluation suite's layout (the one the
RSD paper used). The directory comes from ``--data-dir`` or
``$REWARDSPEC_DATA``; without either we look for ``shared/data`` beside the
working directory (the development layout). Hub loading goes through the
``datasets`` library and is only tried when no local file exists.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewardspec.errors import InvalidInputError, MissingPackageError, RewardspecError


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    question_field: str
    answer_field: str
    hub: tuple[str, ...] = ()
    """(path, config, split) for ``datasets.load_dataset`` when no local file exists."""
    multiple_choice: bool = False


DATASETS: dict[str, DatasetSpec] = {
    s.name: s
    for s in (
        DatasetSpec("math500", "problem", "answer", ("HuggingFaceH4/MATH-500", "", "test")),
        DatasetSpec("gsm8k", "question", "answer", ("openai/gsm8k", "main", "test")),
        DatasetSpec("gaokao2023en", "question", "answer", ("MARIO-Math-Reasoning/Gaokao2023-Math-En", "", "train")),
        DatasetSpec("olympiadbench", "question", "final_answer", ("Hothan/OlympiadBench", "OE_TO_maths_en_COMP", "train")),
        DatasetSpec("amc23", "question", "answer", ("math-ai/amc23", "", "test")),
        DatasetSpec("aime24", "problem", "answer", ("HuggingFaceH4/aime_2024", "", "train")),
        DatasetSpec("mmlu_stem", "question", "answer", ("TIGER-Lab/MMLU-STEM", "", "test"), True),
        DatasetSpec("gpqa", "Question", "Correct Answer", ("Idavidrein/gpqa", "gpqa_diamond", "train"), True),
    )
}


@dataclass
class Example:
    """One problem, with its gold answer already extracted as a string."""

    id: str
    question: str
    gold: str
    dataset: str
    choices: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def data_dir(explicit: str | Path | None = None) -> Path | None:
    for candidate in (explicit, os.environ.get("REWARDSPEC_DATA")):
        if candidate:
            return Path(candidate).expanduser()
    for base in (Path.cwd(), *Path.cwd().parents[:2]):
        if (base / "shared" / "data").is_dir():
            return base / "shared" / "data"
    return None


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSONL file; a line that is not UTF-8, not JSON or not an object is one clear error."""
    rows = []
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise InvalidInputError(f"cannot read the dataset {path}: {exc.strerror or exc}") from None
    with fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidInputError(
                    f"{path}:{lineno}: not UTF-8 text (byte {raw[exc.start]:#04x}); "
                    "save the file as UTF-8") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise InvalidInputError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            rows.append(row)
    return rows


def _from_hub(spec: DatasetSpec) -> list[dict[str, Any]]:
    try:
        import datasets  # noqa: F401
        from datasets import load_dataset
    except ImportError as exc:
        raise MissingPackageError(
            f"dataset '{spec.name}' has no local file and loading it from the hub needs "
            "the datasets package: pip install datasets (or pass --data-dir / $REWARDSPEC_DATA)"
        ) from exc
    path, config, split = spec.hub
    try:
        return [dict(r) for r in load_dataset(path, config or None, split=split)]
    except Exception as exc:  # network, auth (gpqa is gated) or format errors
        raise RewardspecError(
            f"could not load '{spec.name}' from the hub ({type(exc).__name__}); there may be "
            "no network here: put its JSONL file in a directory and pass --data-dir or set "
            "$REWARDSPEC_DATA"
        ) from exc


_ID_FIELDS = ("unique_id", "id", "idx", "Record ID")
# Two GaoKao-2023-En rows have an empty answer and carry it at the end of the
# question instead ("...saddle point.answers: $\\frac{3}{10}$").
# (The look-behind makes a run of spaces be tried from its start only: linear time.)
_TRAILING_ANSWER = re.compile(r"(?<!\s)\s*answers?\s*:\s*(?P<answer>[^\n]{1,80})\s*$", re.IGNORECASE)


def _example(row: dict[str, Any], index: int, dataset: str, qf: str, af: str,
             multiple_choice: bool) -> Example:
    from rewardspec.grading import extract_gold

    if qf not in row or af not in row:
        missing = [f for f in (qf, af) if f not in row]
        raise InvalidInputError(
            f"{dataset}: row {index} has no field {', '.join(repr(m) for m in missing)}; "
            f"fields are {', '.join(sorted(row))} (use --question-field/--answer-field)"
        )
    question = str(row[qf])
    ident = next((str(row[k]) for k in _ID_FIELDS if row.get(k) is not None), str(index))
    if dataset == "olympiadbench" and row.get("context") not in (None, "None", ""):
        question = f"{row['context']}\n\n{question}"
    answer = row[af]
    if not str(answer).strip() and (found := _TRAILING_ANSWER.search(question)):
        question, answer = question[: found.start()], found.group("answer")
    choices = None
    if dataset == "gpqa" and "Incorrect Answer 1" in row:
        choices, answer = _gpqa_choices(row, ident)
    elif multiple_choice:
        choices = _choices(row)
    try:
        gold = extract_gold({**row, "answer": answer}, dataset if dataset in DATASETS else "custom")
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidInputError(f"{dataset}: row {index} (id {ident}): unusable answer {answer!r} ({exc})") from None
    meta = {k: row[k] for k in ("level", "subject", "type", "answer_type") if k in row}
    return Example(ident, question, gold, dataset, choices, meta)


def _choices(row: dict[str, Any]) -> list[str]:
    raw = row.get("choices")
    if isinstance(raw, str):
        import ast

        raw = ast.literal_eval(raw)
    return [str(c) for c in raw or []]


def _gpqa_choices(row: dict[str, Any], ident: str) -> tuple[list[str], int]:
    """GPQA lists the correct answer first; shuffle the options so its letter tells nothing.

    The order is seeded by the row's id, so every run, method and machine asks
    the same lettered question.
    """
    options = [str(row["Correct Answer"]).strip()] + [str(row[f"Incorrect Answer {i}"]).strip() for i in (1, 2, 3)]
    order = list(range(4))
    random.Random(hashlib.sha256(ident.encode()).hexdigest()).shuffle(order)
    return [options[i] for i in order], order.index(0)


def load_dataset(
    name_or_path: str,
    *,
    limit: int | None = None,
    data_directory: str | Path | None = None,
    question_field: str | None = None,
    answer_field: str | None = None,
    ids: str | None = None,
    levels: str | None = None,
) -> list[Example]:
    """Load a benchmark by name (local JSONL first, then the hub) or a JSONL path.

    ``ids`` keeps only the problems with those ids ("504", "500-549,700"), and ``levels``
    only those of these difficulty levels ("1-3", MATH's ``level`` field), both before ``limit``.
    """
    path = Path(name_or_path).expanduser()
    if path.suffix == ".jsonl" or path.is_file():
        if not path.is_file():
            raise InvalidInputError(f"dataset file '{name_or_path}' does not exist")
        rows = _read_jsonl(path)
        name = path.stem
        spec = DATASETS.get(name)
        qf = question_field or (spec.question_field if spec else "question")
        af = answer_field or (spec.answer_field if spec else "answer")
        mc = spec.multiple_choice if spec else False
    else:
        spec = DATASETS.get(name_or_path)
        if spec is None:
            raise InvalidInputError(
                f"unknown dataset '{name_or_path}'; use one of {', '.join(DATASETS)} or a .jsonl path"
            )
        name = spec.name
        directory = data_dir(data_directory)
        local = directory / f"{spec.name}.jsonl" if directory else None
        rows = _read_jsonl(local) if local and local.is_file() else _from_hub(spec)
        qf = question_field or spec.question_field
        af = answer_field or spec.answer_field
        mc = spec.multiple_choice
    if limit is not None and ids is None and levels is None:
        rows = rows[:limit]  # rows past the limit are never read, nor checked
    examples = [_example(r, i, name, qf, af, mc) for i, r in enumerate(rows)]
    if ids is not None:
        wanted = parse_ids(ids)
        examples = [e for e in examples if e.id in wanted]
        if not examples:
            raise InvalidInputError(f"dataset '{name_or_path}' has no problem with the ids {ids}")
    if levels is not None:
        examples = _of_levels(examples, levels, name_or_path)
    if limit is not None:
        examples = examples[:limit]
    if not examples:
        raise InvalidInputError(f"dataset '{name_or_path}' has no rows")
    return examples


def _level_number(value: Any) -> int | None:
    """MATH writes 3, the hub's copies sometimes "Level 3"; anything else has no level."""
    found = re.fullmatch(r"\s*(?:level\s*)?(\d+)\s*", str(value), re.IGNORECASE)
    return int(found.group(1)) if found else None


def _of_levels(examples: list[Example], levels: str, name: str) -> list[Example]:
    """The examples whose difficulty level is one of ``levels`` ("1-3", "1,2,5")."""
    wanted = parse_ids(levels)
    if not all(w.isdigit() for w in wanted):
        raise InvalidInputError(f"bad levels '{levels}': write them as numbers, e.g. 1-3 or 1,2,5")
    if not any("level" in e.meta for e in examples):
        raise InvalidInputError(f"dataset '{name}' has no 'level' field, so --levels cannot choose problems "
                                "(math500 has levels 1-5)")
    kept = [e for e in examples if str(_level_number(e.meta.get("level"))) in wanted]
    if not kept:
        raise InvalidInputError(f"dataset '{name}' has no problem of level {levels}")
    return kept


def parse_ids(text: str) -> set[str]:
    """"504" or "500-549,700" -> the ids as strings (ranges inclusive, numeric)."""
    wanted: set[str] = set()
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        low, dash, high = part.partition("-")
        if dash and low.strip().isdigit() and high.strip().isdigit():
            if int(high) < int(low) or int(high) - int(low) > 1_000_000:
                raise InvalidInputError(f"bad id range '{part}': write LOW-HIGH with LOW <= HIGH")
            wanted.update(str(i) for i in range(int(low), int(high) + 1))
        else:
            wanted.add(part)
    if not wanted:
        raise InvalidInputError(f"no ids in '{text}'; write them as 504 or 500-549,700")
    return wanted
