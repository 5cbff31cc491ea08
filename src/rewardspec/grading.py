"""Final-answer extraction and a numeric grader.

This covers what the foundation needs (``\\boxed{}`` answers to numeric
problems); the evaluation harness extends it to LaTeX equivalence.
"""

from __future__ import annotations

import re
from fractions import Fraction

_ANSWER_IS = re.compile(r"answer is[:\s]*\$?\\?\(?\s*([^\n$]+?)\s*\$?\\?\)?\s*(?:\.|$)", re.I)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (or ``\\fbox``), nested braces allowed."""
    idx = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if idx < 0:
        return None
    brace = text.find("{", idx)
    if brace < 0:
        return None
    depth = 0
    for pos in range(brace, len(text)):
        if text[pos] == "{":
            depth += 1
        elif text[pos] == "}":
            depth -= 1
            if depth == 0:
                return text[brace + 1 : pos].strip()
    return None


def extract_answer(text: str) -> str | None:
    """The final answer: last ``\\boxed{}``, else "The answer is …", else the last number."""
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    matches = _ANSWER_IS.findall(text)
    if matches:
        return matches[-1].strip()
    numbers = _NUMBER.findall(text)
    return numbers[-1].replace(",", "") if numbers else None


def to_number(answer: str) -> Fraction | None:
    """Read a plain number, fraction or percentage written as a final answer."""
    s = answer.strip()
    s = re.sub(r"\\text\{[^{}]*\}|\\(?:mathrm|textbf)\{([^{}]*)\}", r"\1", s)
    s = s.replace("\\$", "").replace("$", "").replace("\\%", "").replace("%", "")
    s = s.replace("\\!", "").replace("{,}", "").replace(",", "").strip()
    frac = re.fullmatch(r"-?\\[dt]?frac\{(-?\d+)\}\{(-?\d+)\}", s)
    if frac:
        sign = -1 if s.startswith("-") else 1
        num, den = int(frac.group(1)), int(frac.group(2))
        return sign * Fraction(num, den) if den else None
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*(?:/\s*(\d+))?\s*[a-zA-Z ]*", s)
    if not m:
        return None
    value = Fraction(m.group(1))
    if m.group(2):
        if int(m.group(2)) == 0:
            return None
        value /= int(m.group(2))
    return value


def gsm8k_gold(answer_field: str) -> str:
    """GSM8K's gold answer is the number after ``####`` in its worked solution."""
    return answer_field.split("####")[-1].strip().replace(",", "")


def is_correct(response: str, gold: str) -> bool:
    """Numeric equality of the extracted answer and ``gold``; string equality otherwise."""
    answer = extract_answer(response)
    if answer is None:
        return False
    a, g = to_number(answer), to_number(gold)
    if a is not None and g is not None:
        return a == g
    return answer.replace(" ", "") == gold.replace(" ", "")
