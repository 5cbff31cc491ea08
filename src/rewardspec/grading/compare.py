"""Whether two extracted answers say the same: structure (lists, sets, tuples, intervals,
unions) element by element, exact numbers, then math-verify under the time budget."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from fractions import Fraction

from rewardspec.grading import deadline
from rewardspec.grading.deadline import symbolic_equal
from rewardspec.grading.intervals import set_builder_as_union
from rewardspec.grading.latex import _unwrap_text
from rewardspec.grading.normalize import (
    _THOUSANDS,
    _clean,
    _fold_thousands,
    _quantity,
    _same_quantity,
    _squeezed,
    _strip_units,
)


#: Seconds one grading call may spend in SymPy; past them, the comparison counts as incorrect.
TIME_BUDGET_S = 1.0
# Longer strings are not final answers; parsing them is slow and pointless.
_MAX_SYMBOLIC_CHARS = 300
_MAX_ITEMS = 64

_OPEN, _CLOSE = "([{", ")]}"


def _top_level_split(text: str, separator: re.Pattern[str]) -> list[str]:
    """Split where ``separator`` matches outside all brackets."""
    return _split_keeping_separators(text, separator)[0]


def _split_keeping_separators(text: str, separator: re.Pattern[str]) -> tuple[list[str], list[str]]:
    """(parts, separators) of ``text`` split where ``separator`` matches outside all brackets."""
    depth, start, parts, separators = 0, 0, [], []
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
                separators.append(match.group().strip())
                start = pos = match.end()
                continue
        pos += 1
    parts.append(text[start:])
    return [part.strip() for part in parts], separators


# The look-behinds make a run of spaces be tried from its start only (linear, not quadratic).
_LIST_SEPARATOR = re.compile(r"(?<!\s)\s*[,;]\s*(?:(?:or|and)\s+)?|(?<!\s)\s+(?:or|and)\s+")
_UNION = re.compile(r"\s*\\cup\s*")
_PLUS_MINUS = re.compile(r"\\pm(?![a-z])")
_BASE_NUMBER = re.compile(r"(\d[0-9A-Z]*)_\{?(\d+)\}?")
_EQUALS = re.compile(r"(?<![<>!\\=])=(?!=)")


def _items(text: str) -> list[str]:
    """The answers in a list such as ``1, 3`` or ``2 or -2``; ``a \\pm b`` counts as two."""
    items = []
    for item in _top_level_split(text, _LIST_SEPARATOR):
        halves = _top_level_split(item, _PLUS_MINUS)
        if len(halves) == 2 and halves[1]:
            items += [f"{halves[0]}+{halves[1]}" if halves[0] else halves[1], f"{halves[0]}-{halves[1]}"]
        elif len(_PLUS_MINUS.findall(item)) == 1 and _bracketed(item) is None:  # \frac{3 \pm \sqrt{21}}{2}
            items += [_PLUS_MINUS.sub("+", item), _PLUS_MINUS.sub("-", item)]
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
    pred, gold = set_builder_as_union(pred, _exact_number) or pred, set_builder_as_union(gold, _exact_number) or gold
    chains = _order_chain(pred), _order_chain(gold)
    if chains[0] is not None and chains[1] is not None:  # "c < a < b" against "b > a > c"
        if _same_chain(chains[0], chains[1]):
            return True
        if len(chains[0][1]) > 1 or len(chains[1][1]) > 1:
            return False  # SymPy reads a chain of three terms as nonsense
    if _same_prose(pred, gold):
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


def _exact_number(text: str) -> Fraction | None:
    quantity = _quantity(text)
    return quantity[0] if quantity is not None and not quantity[1] else None


_RELATION = re.compile(r"\\leq|\\geq|\\lt(?![a-z])|\\gt(?![a-z])|[<>≤≥]")
_ASCENDING = {"<": "<", "\\lt": "<", "\\leq": "\\leq", "≤": "\\leq"}
_DESCENDING = {">": "<", "\\gt": "<", "\\geq": "\\leq", "≥": "\\leq"}
Chain = tuple[list[str], list[str]]


def _order_chain(text: str) -> Chain | None:
    """``b > a > c`` -> (["c", "a", "b"], ["<", "<"]): an order read upwards from its least term."""
    if len(text) > _MAX_SYMBOLIC_CHARS:
        return None
    terms, operators = _split_keeping_separators(text, _RELATION)
    if not operators or not all(terms) or len(_items(text)) > 1:
        return None
    if all(op in _ASCENDING for op in operators):
        return terms, [_ASCENDING[op] for op in operators]
    if all(op in _DESCENDING for op in operators):
        return terms[::-1], [_DESCENDING[op] for op in reversed(operators)]
    return None  # "x < 1 or x > 2" is not one chain


def _same_chain(pred: Chain, gold: Chain) -> bool:
    return pred[1] == gold[1] and len(pred[0]) == len(gold[0]) and all(map(_equivalent, pred[0], gold[0]))


_ARTICLES = {"a", "an", "the"}
_CONNECTIVES = {"and", "or", "but", "not", "nor"}
# Nouns that name the kind of answer ("a necessary but not sufficient condition"), not its content.
_KIND_NOUNS = {"condition", "conditions", "statement", "case", "answer", "option"}


def _prose_words(text: str) -> list[str] | None:
    """The words of an answer in prose without its articles and kind noun; None for maths."""
    plain = _unwrap_text(text).strip()
    if len(plain) > _MAX_SYMBOLIC_CHARS or not re.fullmatch(r"[A-Za-z][A-Za-z\s,'’-]*", plain):
        return None
    words = [w for w in re.findall(r"[a-z]+(?:['’-][a-z]+)*", plain.lower()) if w not in _ARTICLES]
    if sum(len(word) >= 3 and word not in _CONNECTIVES for word in words) < 2:
        return None  # "x and y" is maths; one word is compared as a word
    return words[:-1] if words[-1] in _KIND_NOUNS else words


def _same_prose(pred: str, gold: str) -> bool:
    """Prose answers say the same when their words do, articles and kind nouns aside."""
    pred_words, gold_words = _prose_words(pred), _prose_words(gold)
    return pred_words is not None and pred_words == gold_words


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
    labelled = re.fullmatch(r"\(([A-K])\)\s*(\S.*)", pred)
    if labelled and not re.match(r"\(?[A-K]\)", gold):
        pred = labelled.group(2)  # "\textbf{(C)}\ 45", an option letter and its value, for the value 45
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
    until = getattr(_budget, "until", None)  # None outside a grading call, or after one ended
    remaining = (until or time.monotonic() + TIME_BUDGET_S) - time.monotonic()
    return symbolic_equal(pred, gold, remaining)


def _guarded(check: Callable[[], bool]) -> bool:
    """Run a grading step so that errors and parse failures read as incorrect, with SymPy's
    time capped at ``TIME_BUDGET_S`` for the whole call (see :mod:`rewardspec.grading.deadline`)."""
    deadline.available()  # import math-verify (slow, once) outside the budget
    outer = getattr(_budget, "until", None)
    _budget.until = time.monotonic() + TIME_BUDGET_S if outer is None else outer
    try:
        return bool(check())
    except Exception:
        return False
    finally:
        _budget.until = outer
