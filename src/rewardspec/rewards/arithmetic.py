"""A rule-based verifier: every written-out calculation "a op b = c" must hold.

Small drafts mostly fail grade-school problems through arithmetic slips
("12 * 7 = 74"); checking those is free. Steps with no calculation score 1,
since the checker has no evidence against them. Results written rounded
("10 / 3 = 3.33") pass if they agree to the digits shown.
"""

from __future__ import annotations

import ast
import math
import operator
import re

from rewardspec.errors import InvalidInputError
from rewardspec.specs import Spec
from rewardspec.types import Generation, RewardScore

# A number as written in a step: digits, thousands groups (1,200) and decimals.
_NUM = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?"
# One token per match. Every alternative is a single run or character, so the scan is
# linear whatever the text: a pattern with nested quantifiers would backtrack exponentially
# on chains such as "2 + 2 + 2 + ..." with no "= c" after them, which looping drafts write.
_TOKEN = re.compile(rf"(?P<num>{_NUM})|(?P<ws>\s+)|(?P<op>[-+*/^])|(?P<lp>\()|(?P<rp>\))|(?P<eq>=)|.", re.S)
# Text after a result showing it only starts a longer expression ("= 5 + 1").
_CONTINUES = re.compile(r"[\d.]*\s*[-+*/^]\s*\d")

#: Longer steps are checked up to here only: no real step is this long, a looping draft's may be.
MAX_CHECKED_CHARS = 16_000
#: Calculations with more operands or longer numbers are skipped: they are not hand
#: arithmetic, and evaluating them would cost more than the check is worth.
MAX_OPERANDS = 64
MAX_DIGITS = 30

_LATEX = [
    (re.compile(r"\\(?:times|cdot|ast)"), "*"),
    (re.compile(r"\\div"), "/"),
    (re.compile(r"\\d?frac\{([^{}]+)\}\{([^{}]+)\}"), r"(\1/\2)"),
    (re.compile(r"\\left|\\right|\\[,;!]|\\\$|\$|\\%|%|\\text\{[^{}]*\}"), " "),
    (re.compile(r"[×✕]"), "*"),
    (re.compile(r"÷"), "/"),
    (re.compile(r"−|–"), "-"),
    (re.compile(r"(?<=\d)\s*[xX]\s*(?=\d)"), "*"),
    (re.compile(r"[{}]"), " "),
]

_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


def normalize(text: str) -> str:
    """Rewrite LaTeX and typographic operators into plain ASCII arithmetic."""
    for pattern, repl in _LATEX:
        text = pattern.sub(repl, text)
    return text


def _eval(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _eval(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 64:
            raise ValueError("exponent too large")
        return _OPS[type(node.op)](left, right)
    raise ValueError("not arithmetic")


def evaluate(expression: str) -> float | None:
    """Value of a plain arithmetic expression, or None if it is not one."""
    expr = expression.replace(",", "").replace("^", "**")
    if expr.count("(") != expr.count(")"):
        expr = expr.replace("(", " ").replace(")", " ")
    try:
        return _eval(ast.parse(expr.strip(), mode="eval"))
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, RecursionError):
        return None


def _agrees(value: float, written: str) -> bool:
    expected = float(written.replace(",", ""))
    decimals = len(written.split(".")[1]) if "." in written else 0
    tolerance = 0.5 * 10 ** (-decimals) + 1e-9 * max(1.0, abs(expected)) if decimals else 1e-6 * max(1.0, abs(expected))
    return math.isclose(value, expected, abs_tol=tolerance) or abs(value - expected) <= tolerance


class _Tokens:
    """The tokens of a normalised step, and the small grammar of a calculation over them."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.kinds: list[str] = []
        self.spans: list[tuple[int, int]] = []
        for match in _TOKEN.finditer(text):
            if match.lastgroup != "ws":
                self.kinds.append(match.lastgroup or "")
                self.spans.append(match.span())

    def __len__(self) -> int:
        return len(self.kinds)

    def is_(self, i: int, kind: str) -> bool:
        return i < len(self.kinds) and self.kinds[i] == kind

    def number(self, i: int) -> int | None:
        """Index past a number at ``i``, a minus written against it included ("-3"), or None."""
        if self.is_(i, "op") and self.is_(i + 1, "num") and self.text[self.spans[i][0]] == "-" \
                and self.spans[i][1] == self.spans[i + 1][0]:
            return i + 2
        return i + 1 if self.is_(i, "num") else None

    def operand(self, i: int) -> int | None:
        """Index past one operand ("(3", "-4", "5)"), or None."""
        j = self.number(i + 1 if self.is_(i, "lp") else i)
        if j is None:
            return None
        return j + 1 if self.is_(j, "rp") else j

    def source(self, start: int, end: int) -> str:
        """The text of tokens ``start`` to ``end`` (exclusive)."""
        return self.text[self.spans[start][0]:self.spans[end - 1][1]]

    def long_number(self, start: int, end: int) -> bool:
        return any(self.kinds[k] == "num" and self.spans[k][1] - self.spans[k][0] > MAX_DIGITS
                   for k in range(start, end))


def check_equations(text: str) -> list[tuple[str, bool]]:
    """Every calculation "a op b ... = c" found in ``text``, with whether it holds.

    One pass over the tokens. From each place an operand can start, the
    left-hand side is read greedily; if "= c" does not follow it, no later
    start inside it can do better, so the scan resumes after it. The work is
    linear in the length of the text.
    """
    tokens = _Tokens(normalize(text[:MAX_CHECKED_CHARS]))
    results = []
    i = 0
    while i < len(tokens):
        j = tokens.operand(i)
        if j is None:
            i += 1
            continue
        operands = 1
        while tokens.is_(j, "op") and (after := tokens.operand(j + 1)) is not None:
            operands, j = operands + 1, after
        if operands < 2 or not tokens.is_(j, "eq"):
            i = j
            continue
        end = tokens.number(j + 1)
        if end is None:
            i = j + 1
            continue
        if _CONTINUES.match(tokens.text, tokens.spans[end - 1][1]):
            i = j + 1  # "2 + 3 = 5 + 1 = 6": the next calculation may start at the result
            continue
        lhs, rhs = tokens.source(i, j), tokens.source(j + 1, end)
        start, i = i, end
        if operands > MAX_OPERANDS or tokens.long_number(start, end):
            continue
        value = evaluate(lhs)
        if value is not None:
            results.append((tokens.source(start, end), _agrees(value, rhs)))
    return results


class ArithmeticReward:
    """r = 1 if every calculation in the step holds (or there is none), else 0."""

    name = "arithmetic"
    params = 0

    def score(
        self,
        question: str,
        previous_steps: list[str],
        step: str,
        generation: Generation | None = None,
    ) -> RewardScore:
        checks = check_equations(step)
        return RewardScore(0.0 if any(not ok for _, ok in checks) else 1.0)


def load_arithmetic(spec: Spec, load: object = None) -> ArithmeticReward:
    """``arithmetic``: a rule, so a model or options after it are a mistake worth saying."""
    if spec.rest:
        raise InvalidInputError(f"reward '{spec.text}': arithmetic takes no model and no options; "
                                "write arithmetic")
    return ArithmeticReward()
