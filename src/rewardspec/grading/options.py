"""The lettered options a multiple-choice question lists, so an answer may name one by its content.

"…so the answer is Hyperbola" picks option (E) when the question lists
"(E) Hyperbola"; without the question, a grader cannot know.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# "(A) Line", "A. Line", "A) Line" at the start of a line, or "(A) Line (B) Circle" on one line.
_LINE_OPTION = re.compile(r"^[ \t]*(?:\(([A-K])\)|([A-K])[.)])[ \t]+(\S[^\n]*)$", re.M)
_INLINE_LABEL = re.compile(r"\(([A-K])\)|\\text(?:bf)?\{\s*\(([A-K])\)\s*\}")


def options_in(question: str | None) -> dict[str, str]:
    """Letter -> option text, when the question lists options A, B, … in order; else empty."""
    if not question:
        return {}
    lines = {(m.group(1) or m.group(2)): m.group(3).strip() for m in _LINE_OPTION.finditer(question)}
    if _in_order(lines) and not any(_INLINE_LABEL.search(text) for text in lines.values()):
        return lines
    labels = list(_INLINE_LABEL.finditer(question))
    inline = {}
    for label, following in zip(labels, [*labels[1:], None]):
        end = following.start() if following else len(question)
        text = question[label.end() : end].split("\n", 1)[0] if following is None else question[label.end() : end]
        inline[label.group(1) or label.group(2)] = text.strip().rstrip(",;").strip().strip("$").strip()
    return inline if _in_order(inline) else {}


def _in_order(options: dict[str, str]) -> bool:
    return len(options) >= 2 and "".join(options) == "ABCDEFGHIJK"[: len(options)] and all(options.values())


def option_named(phrase: str | None, options: dict[str, str], same: Callable[[str, str], bool]) -> str | None:
    """The one option whose content ``phrase`` states (``same`` is the grader's equivalence)."""
    if not phrase or not options:
        return None
    named = [letter for letter, text in options.items() if same(phrase, text)]
    return named[0] if len(named) == 1 else None
