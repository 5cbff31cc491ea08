"""Set-builder notation over the reals, rewritten as a union of intervals.

``\\{a \\mid a \\neq 0, a \\neq 1\\}`` and ``(-\\infty,0)\\cup(0,1)\\cup(1,\\infty)``
are the same set; SymPy cannot read the first. Conditions with rational
constants (``<``, ``\\leq``, ``>``, ``\\geq``, ``\\neq``, chains such as
``-2 \\leq x < 1``) are intersected exactly here; anything else is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction

# (low, low closed, high, high closed); None is -infinity below and +infinity above.
Interval = tuple[Fraction | None, bool, Fraction | None, bool]

_SET_BUILDER = re.compile(
    r"\\\{\s*([a-zA-Z])\s*(?:\\in\s*(?:\\mathbb\s*\{?R\}?|\\R|ℝ)\s*)?(?:\||\\mid|:)\s*(.+?)\s*\\\}"
)
_CONDITION_SEPARATOR = re.compile(r"\s*(?:,|;|\\text\{\s*and\s*\}|\\(?:land|wedge)|\band\b)\s*")
_OPERATOR = re.compile(r"\\neq|\\leq|\\geq|\\lt|\\gt|[<>≤≥≠]")
_CANONICAL = {"\\lt": "<", "\\gt": ">", "≤": "\\leq", "≥": "\\geq", "≠": "\\neq"}
_FLIPPED = {"<": ">", ">": "<", "\\leq": "\\geq", "\\geq": "\\leq", "\\neq": "\\neq"}
_REALS: list[Interval] = [(None, False, None, False)]


def set_builder_as_union(text: str, number: Callable[[str], Fraction | None]) -> str | None:
    """The set ``text`` describes as ``(a,b]\\cup…``, or None when it is not plain set-builder.

    ``number`` reads a constant exactly (the grader's own number reader).
    """
    match = _SET_BUILDER.fullmatch(text.strip()) if len(text) <= 300 else None
    if match is None:
        return None
    variable, conditions = match.groups()
    intervals = _REALS
    for condition in _CONDITION_SEPARATOR.split(conditions):
        relations = _relations(condition, variable, number)
        if relations is None:
            return None
        for operator, bound in relations:
            intervals = _restrict(intervals, operator, bound)
    return _render(intervals)


def _relations(condition: str, variable: str, number: Callable[[str], Fraction | None]) -> list[tuple[str, Fraction]] | None:
    """``-2 \\leq x < 1`` -> [(">=", -2), ("<", 1)]: each relation written as "x OP bound"."""
    parts = _OPERATOR.split(condition)
    operators = [_CANONICAL.get(op, op) for op in _OPERATOR.findall(condition)]
    terms = [part.strip() for part in parts]
    if not operators or variable not in terms or terms.count(variable) != 1 or len(operators) > 2:
        return None
    at = terms.index(variable)
    relations = []
    for index, operator in enumerate(operators):
        if index == at - 1:  # bound OP x, read as x FLIPPED bound
            bound, operator = terms[index], _FLIPPED[operator]
        elif index == at:
            bound = terms[index + 1]
        else:
            return None
        value = number(bound)
        if value is None:
            return None
        relations.append((operator, value))
    return relations


def _restrict(intervals: list[Interval], operator: str, bound: Fraction) -> list[Interval]:
    if operator == "\\neq":
        return [piece for interval in intervals for piece in _without_point(interval, bound)]
    keep: Interval = {
        "<": (None, False, bound, False),
        "\\leq": (None, False, bound, True),
        ">": (bound, False, None, False),
        "\\geq": (bound, True, None, False),
    }[operator]
    return [piece for interval in intervals if (piece := _intersect(interval, keep)) is not None]


def _intersect(a: Interval, b: Interval) -> Interval | None:
    low, low_closed = _higher_low(a[:2], b[:2])
    high, high_closed = _lower_high(a[2:], b[2:])
    if low is not None and high is not None and (low > high or (low == high and not (low_closed and high_closed))):
        return None
    return low, low_closed, high, high_closed


def _higher_low(a: tuple, b: tuple) -> tuple:
    if a[0] is None or (b[0] is not None and b[0] > a[0]):
        return b
    if b[0] is None or a[0] > b[0]:
        return a
    return a[0], a[1] and b[1]


def _lower_high(a: tuple, b: tuple) -> tuple:
    if a[0] is None or (b[0] is not None and b[0] < a[0]):
        return b
    if b[0] is None or a[0] < b[0]:
        return a
    return a[0], a[1] and b[1]


def _without_point(interval: Interval, point: Fraction) -> list[Interval]:
    low, low_closed, high, high_closed = interval
    if (low is not None and point < low) or (high is not None and point > high):
        return [interval]
    pieces = [_intersect(interval, (None, False, point, False)), _intersect(interval, (point, False, None, False))]
    return [piece for piece in pieces if piece is not None]


def _render(intervals: list[Interval]) -> str:
    if not intervals:
        return "\\emptyset"
    return "\\cup".join(
        f"{'[' if low_closed else '('}{_bound(low, '-')},{_bound(high, '')}{']' if high_closed else ')'}"
        for low, low_closed, high, high_closed in intervals
    )


def _bound(value: Fraction | None, infinity_sign: str) -> str:
    if value is None:
        return f"{infinity_sign}\\infty"
    if value.denominator == 1:
        return str(value.numerator)
    sign = "-" if value < 0 else ""
    return f"{sign}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"

