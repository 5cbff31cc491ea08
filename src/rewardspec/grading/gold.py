"""Gold answers as the datasets write them, turned into what the grader compares against."""

from __future__ import annotations

import re
from typing import Any

from rewardspec.grading.extraction import _choice_at_start


_CHOICE_LETTERS = "ABCDEFGHIJK"
# Rows with the next field's label run on ("$145$solution:"); a label ends a closed maths span
# or a value, so "no solution" is an answer, not junk.
_GOLD_LABEL_TAIL = re.compile(
    r"(?:(?<=\$)|(?<=[\d}\])]))\s*(?:solution|answer|explanation|proof)s?\s*:\s*$|(?<=\$)\s*(?:solution|answer)s?\s*$",
    re.I,
)


def strip_gold_junk(text: str) -> str:
    """A gold answer without a run-on field label: ``$145$solution:`` -> ``$145$``."""
    return _GOLD_LABEL_TAIL.sub("", text.strip())


def gsm8k_gold(answer_field: str) -> str:
    """GSM8K's gold answer is the number after ``####`` in its worked solution."""
    return answer_field.split("####")[-1].strip().replace(",", "")


def _plain_gold(text: str) -> str:
    """A gold answer without its ``$`` delimiters and trailing full stop."""
    text = re.sub(r"(?<!\\)\$", "", strip_gold_junk(str(text))).strip()  # one GaoKao row carries one
    return text.rstrip(".").strip()


def _letter_gold(value: Any) -> str:
    """Multiple-choice golds come as an index 0-3 or as a letter; grade them as letters."""
    if isinstance(value, bool):
        raise ValueError(f"not an option: {value!r}")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        return _CHOICE_LETTERS[int(value)]
    letter = _choice_at_start(str(value), _CHOICE_LETTERS)
    if letter is None:
        raise ValueError(f"not an option: {value!r}")
    return letter


def _number_gold(value: Any) -> str:
    """AMC's golds are floats (``12.0``) and AIME's are strings (``025``): write them plainly."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = _plain_gold(value)
    return str(int(text)) if text.isdigit() else text


def extract_gold(item: dict, dataset: str) -> str:
    """The gold final answer of a raw dataset row, written the way ``is_correct`` expects."""
    name = _dataset_name(dataset)
    if name == "gsm8k":
        return gsm8k_gold(item["answer"])
    if _is_multiple_choice(name):
        return _letter_gold(item["answer"])
    if name == "olympiadbench":
        answers = item["final_answer"]
        answers = answers if isinstance(answers, list) else [answers]
        return ", ".join(_plain_gold(answer) for answer in answers)
    if name in ("amc23", "aime24"):
        return _number_gold(item["answer"])
    for key in ("answer", "final_answer", "gold"):
        if key in item:
            value = item[key]
            return ", ".join(map(_plain_gold, value)) if isinstance(value, list) else _plain_gold(value)
    raise KeyError(f"no answer field in {sorted(item)}")


def _dataset_name(dataset: str) -> str:
    return dataset.strip().lower().replace("-", "_")


def _is_multiple_choice(name: str) -> bool:
    return name.startswith(("mmlu", "gpqa"))
