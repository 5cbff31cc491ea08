"""Removing what changes how an answer looks but not what it is; reading numbers exactly."""

from __future__ import annotations

import re
from fractions import Fraction

from rewardspec.grading.latex import _BOX_COMMAND, _unwrap_text, last_boxed
from rewardspec.grading.words import spelled_number


_SIZED_DELIMITER = re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg)\s*")
_COSMETIC = [
    (re.compile(r"\\[dtc]frac"), r"\\frac"),
    (re.compile(r"\\(?:displaystyle|limits)"), ""),
    (re.compile(r"(?<=\d)\\,(?=\d{3}(?!\d))"), ""),  # 1\,000
    (re.compile(r"\\!\s*"), ""),
    (re.compile(r"\{,\}"), ","),
    (re.compile(r"\\(?:text|mbox)\{\s*(or|and)\s*\}"), r" \1 "),
    (re.compile(r"(?<!\\)\\[,;: ]|\\q?quad|~"), " "),
    (re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°|\\degree"), ""),
    (re.compile(r"\\%|(?<!\s)\s*\bpercent\b"), "%"),
    (re.compile(r"\\infin(?:ity)?\b|∞"), r"\\infty"),
    (re.compile(r"\\varnothing|\\\{\s*\\\}|∅"), r"\\emptyset"),
    (re.compile(r"\+\s*\\infty"), r"\\infty"),
    (re.compile(r"\\(?:le|leqslant)(?![a-z])"), r"\\leq"),
    (re.compile(r"\\(?:ge|geqslant)(?![a-z])"), r"\\geq"),
    (re.compile(r"\\ne(?![a-z])"), r"\\neq"),
    (re.compile(r"_\{(\w)\}"), r"_\1"),
    (re.compile(r"\\frac\s*(\d)\s*(\d)"), r"\\frac{\1}{\2}"),
    (re.compile(r"\\frac\s*(\d)\s*\{"), r"\\frac{\1}{"),
    (re.compile(r"\\frac\s*(\{[^{}]*\})\s*(\d)"), r"\\frac\1{\2}"),
    (re.compile(r"\\sqrt\s*(\d|[a-z])"), r"\\sqrt{\1}"),
    (re.compile(r"^[a-zA-Z]\s*\\in\s*"), ""),  # x \in [1,2]
]


def _clean(answer: str) -> str:
    """Remove the LaTeX that changes how an answer looks but not what it is."""
    text = answer.strip().replace("−", "-")
    if _BOX_COMMAND.search(text):
        boxed = last_boxed(text)
        text = boxed if boxed is not None else _BOX_COMMAND.sub("", text).replace("{", "", 1)
    text = re.sub(r"(?<!\\)\$|\\[()\[\]]", "", text)
    text = _SIZED_DELIMITER.sub("", re.sub(r"\\(?:left|right)\s*\.", "", text))
    for pattern, replacement in _COSMETIC:
        text = pattern.sub(replacement, text)
    text = re.sub(r"\s+", " ", text).strip()
    quantifier = _QUANTIFIER_TAIL.search(text)
    if quantifier is not None and quantifier.start() > 0:  # "f(n) = n for all n \in \mathbb{N}"
        text = text[: quantifier.start()].rstrip(" ,;")
    return text.rstrip(".,;").strip()


# Where a qualifier starts that says for which values an answer holds, not what it is.
_QUANTIFIER_TAIL = re.compile(r"(?:\\(?:text|mbox|textrm)\s*\{\s*)?(?:\bfor\s+(?:all|every|each|any)\b|\\forall\b|∀)", re.I)


def _squeezed(text: str) -> str:
    """A form for literal comparison: no spaces, braces or font commands; words case-folded."""
    text = _unwrap_text(text)
    text = re.sub(r"[\s{}]", "", text)
    return text.lower() if re.fullmatch(r"[A-Za-z]{2,}", text) else text


_UNIT = (
    r"(?:km|[cm]m|kg|mg|lbs?|oz|secs?|seconds?|mins?|minutes?|hrs?|hours?|days?|weeks?|"
    r"months?|years?|yrs?|ft|feet|foot|in|inch(?:es)?|yards?|yd|miles?|mi|mph|km/h|kmh|m/s|"
    r"meters?|metres?|centimeters?|kilometers?|millimeters?|grams?|kilograms?|pounds?|ounces?|"
    r"ml|liters?|litres?|gallons?|dollars?|cents?|units?|sq|square|cubic|degrees?|deg|rad|radians?)"
)
# One-letter units (5m, 3s) are also variable names, so they only go where a number must remain.
_LETTER_UNIT = r"(?:m|g|s|h|l|L)"
_POWER = r"(?:\s*(?:\^\s*\{?[23]\}?|²|³))?"
_UNIT_SUFFIX = re.compile(rf"(?<=[\d}}.\s]){_UNIT}{_POWER}$", re.I)
_LETTER_UNIT_SUFFIX = re.compile(rf"(?<=[\d.\s]){_LETTER_UNIT}{_POWER}$")
_MATH_WORDS = {"sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "or", "and", "pi"}
_TEXT_SUFFIX = re.compile(r"\\(?:text|mbox|mathrm|textrm)\s*\{([^{}]*)\}(?:\s*\^\s*\{?[23]\}?)?$")
# Trailing words ("18 dollars"): the run of letters and spaces at the end, found from its
# start only (the look-behind), then the words in it from the first space before a word
# of two letters or more: what "\s([A-Za-z]{2,}(?:\s+[A-Za-z]+)*)$" matches, found in linear time.
_LETTERS_AND_SPACES_TAIL = re.compile(r"(?<![A-Za-z\s])[A-Za-z\s]*$")
_FIRST_TRAILING_WORD = re.compile(r"\s(?=[A-Za-z]{2})")
_CURRENCY = re.compile(r"^(?:\\\$|\$|USD|€|£|¥)\s*|(?<!\s)\s*(?:\\\$|\$)$")
_THOUSANDS = re.compile(r"(?<![\d,.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])")
_DECIMAL = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_SLASH = re.compile(r"(?<!\s)\s*/\s*")


def _drop_if_words(match: re.Match[str]) -> str:
    return "" if re.search(r"[A-Za-z]", match.group(1)) else match.group(0)


def _strip_trailing_words(text: str) -> str:
    """``18 dollars`` -> ``18``, but ``2 sin x`` stays: only words after a number, never functions."""
    body = text[:-1] if text.endswith("\n") else text
    tail = _LETTERS_AND_SPACES_TAIL.search(text)
    if tail is None or not (body[-1:].isascii() and body[-1:].isalpha()):
        return text
    first = _FIRST_TRAILING_WORD.search(text, tail.start())
    if first is None or not re.search(r"\d", text[: first.start()]):
        return text
    if set(text[first.end() :].lower().split()) & _MATH_WORDS:
        return text
    return text[: first.start()].strip()


def _strip_units(text: str, loose: bool = True) -> str:
    """Take units, currency and trailing words off a quantity: ``5 \\text{ cm}^2`` -> ``5``.

    ``loose`` also takes one-letter units and any trailing words ("18 dollars",
    "45 apples"); use it only where what remains must be a number.
    """
    original = text
    text = _CURRENCY.sub("", text.strip())
    for _ in range(3):
        before = text
        text = _TEXT_SUFFIX.sub(_drop_if_words, text).strip()
        text = _UNIT_SUFFIX.sub("", text).strip()
        if loose:
            text = _strip_trailing_words(_LETTER_UNIT_SUFFIX.sub("", text).strip())
        text = _CURRENCY.sub("", text).strip()
        if text == before:
            break
    return text or original


def _fold_thousands(text: str) -> str:
    """``1,000`` -> ``1000``; only for answers known to be single numbers."""
    return _THOUSANDS.sub(lambda m: m.group().replace(",", ""), text)


def _plain_number(text: str) -> Fraction | None:
    """Integers, decimals, ``a/b``, ``\\frac{a}{b}`` and mixed numbers, exactly."""
    text = _SLASH.sub("/", text)
    sign = -1 if text.startswith("-") else 1
    body = text[1:].strip() if text[:1] in "+-" else text
    if re.fullmatch(rf"{_DECIMAL}(?:[eE][+-]?\d{{1,3}})?", body):  # 1e3, but never 1e999999
        return sign * Fraction(body)
    parts = re.fullmatch(rf"({_DECIMAL})/({_DECIMAL})|\\frac\{{({_DECIMAL})\}}\{{({_DECIMAL})\}}", body)
    if parts:
        num, den = (g for g in parts.groups() if g is not None)
        return sign * Fraction(num) / Fraction(den) if Fraction(den) else None
    mixed = re.fullmatch(r"(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}|(\d+)\s+(\d+)/(\d+)", body)
    if mixed:
        whole, num, den = (int(g) for g in mixed.groups() if g is not None)
        return sign * (whole + Fraction(num, den)) if den and num < den else None
    return None


def _quantity(answer: str) -> tuple[Fraction, bool] | None:
    """The value of a number written with any decoration, and whether it was a percentage."""
    text = _fold_thousands(_strip_units(answer))
    percent = text.endswith("%")
    text = text.rstrip("%").strip()
    try:
        value = _plain_number(text)
    except (ValueError, ZeroDivisionError):
        return None
    if value is None and (spelled := spelled_number(_unwrap_text(answer))) is not None:
        return Fraction(spelled[0]), spelled[1]  # "eighteen", "eight mugs"
    return (value, percent) if value is not None else None


def to_number(answer: str) -> Fraction | None:
    """Read a plain number, fraction, mixed number or percentage written as a final answer."""
    try:
        quantity = _quantity(_clean(answer))
    except Exception:
        return None
    return quantity[0] if quantity else None


def _same_quantity(pred: tuple[Fraction, bool], gold: tuple[Fraction, bool]) -> bool:
    """Equal values; when only one side carries ``%``, 50% and 0.5 are also equal."""
    (value, pred_percent), (target, gold_percent) = pred, gold
    if value == target:
        return True
    if pred_percent != gold_percent:
        return value / 100 == target if pred_percent else value * 100 == target
    return False
