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

from rewardspec.types import Generation, RewardScore

_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
# A left-hand side: numbers joined by operators, parentheses allowed; at least one operator.
_EXPR = rf"\(?\s*-?{_NUM}\s*\)?(?:\s*[-+*/^]\s*\(?\s*-?{_NUM}\s*\)?)+"
_EQUATION = re.compile(rf"(?P<lhs>{_EXPR})\s*=\s*(?P<rhs>-?{_NUM})(?![\d.]*\s*[-+*/^]\s*\d)")

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


def check_equations(text: str) -> list[tuple[str, bool]]:
    """Every calculation found in ``text`` with whether it holds."""
    results = []
    for match in _EQUATION.finditer(normalize(text)):
        value = evaluate(match.group("lhs"))
        if value is None:
            continue
        results.append((match.group(0).strip(), _agrees(value, match.group("rhs"))))
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
