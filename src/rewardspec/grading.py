"""Final-answer extraction and grading against a gold answer.

Accuracy numbers are only as trustworthy as the grader, so the aim is to agree
with a careful human grader: ``\\frac{1}{2}``, ``0.5`` and ``1/2`` are the same
answer, ``(1,2]`` and ``(1,2)`` are not, a set is unordered and a point is not.

The work is split in three layers:

* extraction -- which part of a long response is the final answer
  (``\\boxed{}``, "the answer is", a multiple-choice letter, the last number);
* structure -- lists, sets, tuples, intervals and unions are compared element by
  element here, because general-purpose graders get them wrong (comparing lists
  by their first element, ignoring interval brackets, confusing ``1,000`` with a
  pair);
* scalars -- exact rational arithmetic for numbers (with units, percent signs,
  degrees, currency and thousands separators taken off), and ``math-verify``
  (SymPy) for everything symbolic.

Grading never raises and never hangs, in any thread: any failure counts as
"incorrect"; every pattern runs in time linear in its input; and
``math-verify`` runs under a wall-clock budget (:mod:`rewardspec.symbolic`).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from rewardspec import symbolic
from rewardspec.symbolic import symbolic_equal

__all__ = [
    "extract_answer",
    "extract_choice",
    "extract_gold",
    "final_answer",
    "gsm8k_gold",
    "answers_equivalent",
    "is_correct",
    "last_boxed",
    "to_number",
]

#: Seconds one grading call may spend in SymPy; past them, the comparison counts as incorrect.
TIME_BUDGET_S = 1.0
# Longer strings are not final answers; parsing them is slow and pointless.
_MAX_SYMBOLIC_CHARS = 300
_MAX_ITEMS = 64
_CHOICE_LETTERS = "ABCDEFGHIJK"

# ---------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------

_BOX_COMMAND = re.compile(r"\\(?:boxed|fbox|framebox)(?![A-Za-z])")
_ANSWER_CUE = re.compile(
    r"(?:final\s+answer|answers?)(?:\s+(?:is|are|would\s+be|will\s+be))?\s*(?:[:=]|(?<=is|re|be))", re.I
)
_CHOICE_CUE = re.compile(
    r"(?:answer|option|choice)(?:\s+(?:is|would\s+be|will\s+be))?\s*(?:[:=]|(?<=is|be))", re.I
)
_NUMBER = re.compile(r"(?<![\d.,])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\d])|(?<![\d.])-?\.\d+")


_BARE_BOX_CONTENT = re.compile(r"[^\s${}]+")


def _boxed_spans(text: str) -> list[tuple[int, int, int, int]]:
    """Every ``\\boxed`` answer as (start, end, content start, content end), in order of appearance.

    Braces are paired once for the whole text, so a response with thousands
    of boxes costs one pass, not one scan per box; contents are sliced only
    where they are used (nested boxes would otherwise copy the text once per level).
    """
    spans = []
    pairs: dict[int, int] | None = None
    for match in _BOX_COMMAND.finditer(text):
        pos = match.end()
        while pos < len(text) and text[pos] == " ":
            pos += 1
        if pos < len(text) and text[pos] == "{":
            pairs = _brace_pairs(text) if pairs is None else pairs
            end = pairs.get(pos)
            if end is not None:
                spans.append((match.start(), end + 1, pos + 1, end))
            continue
        token = _BARE_BOX_CONTENT.match(text, pos)  # ``\boxed 5``
        if token and pos > match.end():
            content = token.group().rstrip(".,;")
            spans.append((match.start(), token.end(), pos, pos + len(content)))
    return spans


def _content(text: str, span: tuple[int, int, int, int]) -> str:
    return text[span[2] : span[3]].strip()


def _brace_pairs(text: str) -> dict[int, int]:
    """Position of each unescaped ``{`` that is closed -> position of its ``}``."""
    pairs, stack = {}, []
    for match in _BRACE.finditer(text):
        pos = match.start()
        if text[pos - 1 : pos] == "\\":
            continue
        if text[pos] == "{":
            stack.append(pos)
        elif stack:
            pairs[stack.pop()] = pos
    return pairs


_BRACE = re.compile(r"[{}]")


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (``\\fbox``, ``\\boxed 5``), nested braces allowed."""
    spans = _boxed_spans(text)
    last = max(_BOX_COMMAND.finditer(text), key=lambda m: m.start(), default=None)
    if not spans or last is None or spans[-1][0] != last.start():
        return None  # the last box was never closed: the answer was cut off
    return _content(text, spans[-1])


def _cut_sentence(tail: str) -> str:
    """The answer phrase at the start of ``tail``: up to a full stop outside maths."""
    in_math = False
    for pos, char in enumerate(tail):
        if char == "$" and tail[pos - 1 : pos] != "\\":
            in_math = not in_math
        elif char == "." and not in_math and (pos + 1 == len(tail) or tail[pos + 1].isspace()):
            return tail[:pos]
    return tail


def _after_cue(text: str, cue: re.Pattern[str]) -> str | None:
    """The phrase after the last answer cue ("The answer is", "Answer:")."""
    matches = list(cue.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end() :].lstrip(" \t*")
    line = next((line for line in rest.split("\n") if line.strip()), "")  # "Answer:\n\n$$5$$" too
    phrase = _cut_sentence(line.strip()).strip().strip("*").strip()
    math = re.fullmatch(r"\$+([^$]+)\$+|\\\((.+)\\\)|\\\[(.+)\\\]", phrase)
    if math:  # "The answer is $\frac{1}{2}$." -> \frac{1}{2}
        phrase = next(group for group in math.groups() if group is not None).strip()
    return phrase or None


def _last_number(text: str) -> tuple[int, str] | None:
    matches = list(_NUMBER.finditer(text))
    if not matches:
        return None
    return matches[-1].end(), matches[-1].group().replace(",", "")


def extract_answer(text: str) -> str | None:
    """The final answer: last ``\\boxed{}``, else "The answer is …", else the last number."""
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    cued = _after_cue(text, _ANSWER_CUE)
    if cued is not None:
        return cued
    number = _last_number(text)
    return number[1] if number else None


def _final_paragraph_boxes(text: str) -> list[str]:
    """The boxes of the last paragraph with a box; a box inside another is part of that one."""
    spans = _boxed_spans(text)
    if not spans:
        return []
    start = text.rfind("\n\n", 0, spans[-1][0])
    boxes, outer_end = [], -1
    for span in spans:
        if span[0] > start and span[0] >= outer_end:
            boxes.append(_content(text, span))
            outer_end = span[1]
    return boxes


def _extract_for_grading(response: str, dataset: str, gold_is_list: bool) -> str | None:
    """The answer to grade, using what the dataset's answers look like."""
    if gold_is_list:
        boxes = _final_paragraph_boxes(response)
        if len(boxes) > 1:  # "\boxed{1} and \boxed{3}" answers a two-part question
            return ", ".join(boxes)
    answer = last_boxed(response)
    if answer is None:
        answer = _after_cue(response, _ANSWER_CUE)
    if answer is not None:
        return answer
    if dataset == "gsm8k":  # its answers are numbers, and chain-of-thought ends on the result
        number = _last_number(response)
        return number[1] if number else None
    return _last_math_or_number(response)


def _last_math_or_number(text: str) -> str | None:
    """Whichever comes last: a maths span such as ``$x=3$``, or a bare number."""
    number = _last_number(text)
    span = _last_math_span(text)
    if span is not None and (number is None or span[0] >= number[0]):
        return span[1]
    return number[1] if number else None


_MATH_OPENER = re.compile(r"\$|\\[\[(]")
_MATH_CLOSERS = {"$$": "$$", "\\[": "\\]", "\\(": "\\)"}


def _last_math_span(text: str) -> tuple[int, str] | None:
    """(end, content) of the last ``$$..$$``, ``\\[..\\]``, ``\\(..\\)`` or ``$..$`` span.

    Spans are read left to right, as a regular expression would, but each
    kind of delimiter is searched for with ``str.find``, and a kind with no
    closing delimiter left is not searched for again: unclosed ``\\[`` or
    ``$`` repeated thousands of times cost one pass.
    """
    last, pos, closed = None, 0, {"$$": True, "\\[": True, "\\(": True}
    while (opener := _MATH_OPENER.search(text, pos)) is not None:
        start = opener.start()
        kind = "$$" if text.startswith("$$", start) else opener.group()
        if kind != "$" and closed[kind]:
            end = text.find(_MATH_CLOSERS[kind], start + 3)
            if end >= 0:
                last, pos = (end + 2, text[start + 2 : end].strip()), end + 2
                continue
            closed[kind] = False
        if kind != "$$" and text[start] == "$" and text[start - 1 : start] not in ("\\", "$"):
            end = text.find("$", start + 1)
            if end > start + 1 and text[end - 1] != "\\":
                last, pos = (end + 1, text[start + 1 : end].strip()), end + 1
                continue
        pos = start + 1
    return last


def _choice_at_start(phrase: str, letters: str) -> str | None:
    """The option letter a short phrase such as ``(B) 12``, ``\\text{(D)}`` or ``C.`` names."""
    phrase = _unwrap_text(phrase.replace("$", "")).replace("**", "").strip()
    phrase = re.sub(r"^(?:option|choice)\s*", "", phrase, flags=re.I)
    match = re.match(rf"\(?([{letters}])\)?(?![A-Za-z0-9'])", phrase)
    return match.group(1) if match else None


def extract_choice(text: str, letters: str = "ABCD") -> str | None:
    """The multiple-choice letter a response settles on, or None if it names none."""
    boxed = last_boxed(text)
    if boxed is not None:
        letter = _choice_at_start(boxed, letters)
        if letter:
            return letter
    cued = _after_cue(text, _CHOICE_CUE)
    if cued is not None:
        letter = _choice_at_start(cued, letters)
        if letter:
            return letter
    stripped = text.strip()
    if len(stripped) <= 40 and (letter := _choice_at_start(stripped, letters)):
        return letter
    last_line = stripped.rsplit("\n", 1)[-1]
    marked = set(re.findall(rf"\(([{letters}])\)", last_line))
    if len(marked) == 1:
        return marked.pop()
    return _choice_at_start(last_line, letters) if re.match(rf"\(?[{letters}][.):]", last_line) else None


# ---------------------------------------------------------------------------
# Gold answers
# ---------------------------------------------------------------------------


def gsm8k_gold(answer_field: str) -> str:
    """GSM8K's gold answer is the number after ``####`` in its worked solution."""
    return answer_field.split("####")[-1].strip().replace(",", "")


def _plain_gold(text: str) -> str:
    """A gold answer without its ``$`` delimiters and trailing full stop."""
    text = re.sub(r"(?<!\\)\$", "", str(text)).strip()
    text = _GOLD_SOLUTION_TAIL.sub("", text)  # one GaoKao row carries this
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


# ---------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------

_TEXT_COMMAND = re.compile(
    r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|mbox|operatorname)\s*\{([^{}]*)\}"
)
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
    (re.compile(r"_\{(\w)\}"), r"_\1"),
    (re.compile(r"\\frac\s*(\d)\s*(\d)"), r"\\frac{\1}{\2}"),
    (re.compile(r"\\frac\s*(\d)\s*\{"), r"\\frac{\1}{"),
    (re.compile(r"\\frac\s*(\{[^{}]*\})\s*(\d)"), r"\\frac\1{\2}"),
    (re.compile(r"\\sqrt\s*(\d|[a-z])"), r"\\sqrt{\1}"),
    (re.compile(r"^[a-zA-Z]\s*\\in\s*"), ""),  # x \in [1,2]
]


def _unwrap_text(text: str) -> str:
    """``\\text{(B)}`` -> ``(B)``: text commands only change the font."""
    for _ in range(3):
        unwrapped = _TEXT_COMMAND.sub(r"\1", text)
        if unwrapped == text:
            break
        text = unwrapped
    return text


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
    return text.rstrip(".,;").strip()


def _squeezed(text: str) -> str:
    """A form for literal comparison: no spaces, braces or font commands; words case-folded."""
    text = _unwrap_text(text)
    text = re.sub(r"[\s{}]", "", text)
    return text.lower() if re.fullmatch(r"[A-Za-z]{2,}", text) else text


# ---------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------

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
# of two letters or more (what "\s([A-Za-z]{2,}(?:\s+[A-Za-z]+)*)$" matched, in linear time).
_LETTERS_AND_SPACES_TAIL = re.compile(r"(?<![A-Za-z\s])[A-Za-z\s]*$")
_FIRST_TRAILING_WORD = re.compile(r"\s(?=[A-Za-z]{2})")
_CURRENCY = re.compile(r"^(?:\\\$|\$|USD|€|£|¥)\s*|(?<!\s)\s*(?:\\\$|\$)$")
_THOUSANDS = re.compile(r"(?<![\d,.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])")
_DECIMAL = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_SLASH = re.compile(r"(?<!\s)\s*/\s*")
_GOLD_SOLUTION_TAIL = re.compile(r"(?<!\s)\s*solution:?$", re.I)


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


# ---------------------------------------------------------------------------
# Structure: lists, sets, tuples, intervals, unions
# ---------------------------------------------------------------------------

_OPEN, _CLOSE = "([{", ")]}"


def _top_level_split(text: str, separator: re.Pattern[str]) -> list[str]:
    """Split where ``separator`` matches outside all brackets."""
    depth, start, parts = 0, 0, []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
        elif depth == 0:
            match = separator.match(text, pos)
            if match and match.end() > pos:
                parts.append(text[start:pos])
                start = pos = match.end()
                continue
        pos += 1
    parts.append(text[start:])
    return [part.strip() for part in parts]


# The look-behinds make a run of spaces be tried from its start only (linear, not quadratic).
_LIST_SEPARATOR = re.compile(r"(?<!\s)\s*[,;]\s*|(?<!\s)\s+(?:or|and)\s+")
_UNION = re.compile(r"\s*\\cup\s*")
_PLUS_MINUS = re.compile(r"\\pm")
_BASE_NUMBER = re.compile(r"(\d[0-9A-Z]*)_\{?(\d+)\}?")
_EQUALS = re.compile(r"(?<![<>!\\=])=(?!=)")


def _items(text: str) -> list[str]:
    """The answers in a list such as ``1, 3`` or ``2 or -2``; ``a \\pm b`` counts as two."""
    items = []
    for item in _top_level_split(text, _LIST_SEPARATOR):
        halves = _top_level_split(item, _PLUS_MINUS)
        if len(halves) == 2 and halves[1]:
            items += [f"{halves[0]}+{halves[1]}" if halves[0] else halves[1], f"{halves[0]}-{halves[1]}"]
        elif item:
            items.append(item)
    return items


def _bracketed(text: str) -> tuple[str, str, str] | None:
    """(opening, closing, inside) when one bracket pair encloses the whole answer."""
    if not text or text[0] not in "([" and not text.startswith("\\{"):
        return None
    depth = 0
    for pos, char in enumerate(text):
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
            if depth == 0:
                if pos != len(text) - 1:
                    return None
                if text.startswith("\\{"):
                    return ("{", "}", text[2:-2]) if text.endswith("\\}") else None
                return text[0], char, text[1:-1]
    return None


def _same_multiset(preds: list[str], golds: list[str]) -> bool:
    """Every gold answer matched by a different predicted one, in any order."""
    if len(preds) != len(golds) or len(golds) > _MAX_ITEMS:
        return False
    unused = list(preds)
    for gold in golds:
        match = next((i for i, pred in enumerate(unused) if _equivalent(pred, gold)), None)
        if match is None:
            return False
        unused.pop(match)
    return True


def _same_sequence(preds: list[str], golds: list[str]) -> bool:
    return len(preds) == len(golds) <= _MAX_ITEMS and all(map(_equivalent, preds, golds))


def _set_builder_condition(shape: tuple[str, str, str]) -> str | None:
    """``\\{x | -2 \\leq x < 1\\}`` -> ``-2 \\leq x < 1``, which SymPy compares with intervals."""
    match = re.fullmatch(r"\s*[a-z]\s*(?:\||\\mid)\s*(.+)", shape[2]) if shape[0] == "{" else None
    if match is None or re.search(r"\\in|,", match.group(1)):
        return None
    return match.group(1)


def _compare_bracketed(pred: str, gold: tuple[str, str, str]) -> bool | None:
    """Sets unordered, tuples and intervals ordered with their exact brackets; None: undecided."""
    opening, closing, inside = gold
    golds, shape = _items(inside), _bracketed(pred)
    if opening == "{":
        condition = _set_builder_condition(gold)
        if condition is not None:
            pred_condition = _set_builder_condition(shape) if shape else None
            return _symbolic_equal(pred_condition or pred, condition)
        if re.search(r"\||\\mid", inside):
            return None  # other set-builder notation: leave it to SymPy
        if shape is None:
            return _same_multiset(_items(pred), golds) if len(_items(pred)) > 1 or len(golds) == 1 else None
        return shape[0] == "{" and _same_multiset(_items(shape[2]), golds)
    if shape is None:
        preds = _items(pred)
        if _THOUSANDS.fullmatch(pred):
            return False  # "1,000" is a number even where a pair is expected
        if (opening, closing) == ("(", ")") and len(preds) == len(golds) > 1:
            return _same_sequence(preds, golds)  # "1, 2" for the point (1, 2)
        return None
    if shape[:2] != (opening, closing):
        return False
    return _same_sequence(_items(shape[2]), golds)


# ---------------------------------------------------------------------------
# Equivalence
# ---------------------------------------------------------------------------


def _equivalent(pred: str, gold: str) -> bool:
    """Whether the answer ``pred`` says the same as ``gold``; both already extracted."""
    pred, gold = _clean(pred), _clean(gold)
    if not pred or not gold:
        return False
    if _squeezed(pred) == _squeezed(gold):
        return True
    gold_items = _items(gold if _THOUSANDS.fullmatch(gold) is None else _fold_thousands(gold))
    if len(gold_items) > 1:
        unwrapped = _bracketed(pred)
        inside = unwrapped[2] if unwrapped and unwrapped[0] == "{" else pred
        return _same_multiset(_items(inside), gold_items)
    gold_parts, pred_parts = _top_level_split(gold, _UNION), _top_level_split(pred, _UNION)
    if len(gold_parts) > 1 and len(pred_parts) > 1:
        return _same_multiset(pred_parts, gold_parts)
    shape = _bracketed(gold)
    if shape is not None and len(gold_parts) == 1 and (shape[0] == "{" or len(_items(shape[2])) > 1):
        verdict = _compare_bracketed(pred, shape)
        return verdict if verdict is not None else _symbolic_equal(pred, gold)
    pred = _fold_thousands(pred)
    if len(_items(pred)) > 1:
        return _symbolic_equal(pred, gold) if len(gold_parts) > 1 else False
    return _scalar_equal(pred, gold)


def _same_base_number(pred: str, gold: str) -> bool:
    """``52_8`` is matched by ``52_{8}`` or by the digits alone, never by another base.

    SymPy would read it as a subscripted symbol and ignore the digits after ``_``.
    """
    digits, base = _BASE_NUMBER.fullmatch(gold).groups()
    written = _BASE_NUMBER.fullmatch(pred.replace(" ", ""))
    return written.groups() == (digits, base) if written else pred.replace(" ", "") == digits


def _scalar_equal(pred: str, gold: str) -> bool:
    """One answer against one answer: exact numbers first, SymPy for the rest."""
    if not _top_level_split(gold, _EQUALS)[1:]:
        pred = _top_level_split(pred, _EQUALS)[-1]  # "x = 3" answers "3"
    pred = _unwrap_text(pred)
    shape = _bracketed(pred)
    if shape and shape[0] == "(" and shape[1] == ")" and len(_items(shape[2])) == 1:
        pred = shape[2]  # "(073)", as AIME and AMC answers are sometimes written
    if _squeezed(pred) == _squeezed(gold):
        return True
    if _BASE_NUMBER.fullmatch(gold):
        return _same_base_number(pred, gold)
    gold_value, pred_value = _quantity(gold), _quantity(pred)
    if gold_value is not None and pred_value is not None:
        return _same_quantity(pred_value, gold_value)
    if _symbolic_equal(_strip_units(pred, loose=False), _strip_units(gold, loose=False)):
        return True
    return _squeezed(_strip_units(pred)) == _squeezed(_strip_units(gold))


# ---------------------------------------------------------------------------
# math-verify, under a time budget
# ---------------------------------------------------------------------------


_budget = threading.local()


def _symbolic_equal(pred: str, gold: str) -> bool:
    """math-verify's verdict within what is left of this grading call's budget; False otherwise."""
    if max(len(pred), len(gold)) > _MAX_SYMBOLIC_CHARS:
        return False
    remaining = getattr(_budget, "until", time.monotonic() + TIME_BUDGET_S) - time.monotonic()
    return symbolic_equal(pred, gold, remaining)


def _guarded(check: Callable[[], bool]) -> bool:
    """Run a grading step so that errors and parse failures read as incorrect, with SymPy's
    time capped at ``TIME_BUDGET_S`` for the whole call (see :mod:`rewardspec.symbolic`)."""
    symbolic.available()  # import math-verify outside the budget (once; ~1 s)
    outer = getattr(_budget, "until", None)
    _budget.until = time.monotonic() + TIME_BUDGET_S if outer is None else outer
    try:
        return bool(check())
    except Exception:
        return False
    finally:
        _budget.until = outer


def answers_equivalent(answer: str | None, gold: str | None, dataset: str = "math") -> bool:
    """Whether an already extracted answer matches ``gold`` (or another sample's answer, to vote).

    ``gold``'s shape decides how ``answer`` is read, as in ``is_correct``.
    """
    if answer is None or gold is None:
        return False
    return _guarded(lambda: _answers_agree(str(answer), str(gold), _dataset_name(dataset or "math")))


def _answers_agree(answer: str, gold: str, dataset: str) -> bool:
    """Letters for multiple choice ("(B) 12" agrees with "B"), equivalence otherwise."""
    multiple_choice = _is_multiple_choice(dataset)
    letter = _gold_choice(gold, multiple_choice) or _choice_at_start(_clean(gold), _CHOICE_LETTERS)
    if multiple_choice or _gold_choice(gold, multiple_choice=False) is not None:
        return letter is not None and _choice_at_start(_clean(answer), _CHOICE_LETTERS) == letter
    return _equivalent(answer, gold)


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def _gold_choice(gold: str, multiple_choice: bool) -> str | None:
    """The option letter ``gold`` names, if the gold is a letter (or an index for MC sets)."""
    text = _clean(gold)
    if multiple_choice and text.isdigit() and int(text) < len(_CHOICE_LETTERS):
        return _CHOICE_LETTERS[int(text)]
    match = re.fullmatch(rf"\(?([{_CHOICE_LETTERS}])\)?", _unwrap_text(text).strip())
    return match.group(1) if match else None


def _gold_is_list(gold: str) -> bool:
    return len(_items(_clean(gold))) > 1 and _THOUSANDS.fullmatch(_clean(gold)) is None


def final_answer(response: str, dataset: str = "math", gold: str | None = None) -> str | None:
    """The answer ``is_correct`` grades, as a string: what samples record and majority votes on.

    Multiple-choice datasets (or a letter gold) give the option letter. With
    a gold, its shape decides whether several boxes in the final paragraph are
    one list answer; without one (voting) they are read as a list.
    """
    if not isinstance(response, str):
        return None
    name = _dataset_name(dataset or "math")
    multiple_choice = _is_multiple_choice(name)
    letter = _gold_choice(str(gold), multiple_choice) if gold is not None else None
    if multiple_choice or letter is not None:
        letters = "ABCD" if multiple_choice and (letter is None or letter <= "D") else _CHOICE_LETTERS
        return _guarded_value(lambda: extract_choice(response, letters))
    gold_is_list = gold is None or _gold_is_list(str(gold))
    return _guarded_value(lambda: _extract_for_grading(response.replace("−", "-"), name, gold_is_list))


def _guarded_value(extract: Callable[[], str | None]) -> str | None:
    try:
        return extract()
    except Exception:
        return None


def _grade(response: str, gold: str, dataset: str) -> bool:
    multiple_choice = _is_multiple_choice(_dataset_name(dataset))
    letter = _gold_choice(gold, multiple_choice)
    answer = final_answer(response, dataset, gold)
    if letter is not None:
        return answer == letter
    if multiple_choice:
        return False
    return answer is not None and _equivalent(answer, gold)


def is_correct(response: str, gold: str, dataset: str = "math") -> bool:
    """Whether ``response`` ends in an answer equivalent to ``gold``.

    ``dataset`` picks the conventions of that benchmark (gsm8k, math500,
    gaokao2023en, olympiadbench, amc23, aime24, mmlu_stem, gpqa); any other
    name grades as free-form maths.  Never raises: failures grade as incorrect.
    """
    if not isinstance(response, str) or gold is None:
        return False
    return _guarded(lambda: _grade(response, str(gold), dataset or "math"))

