"""LaTeX structure every other grading step reads: ``\\boxed{}`` answers and font commands."""

from __future__ import annotations

import re


_BOX_COMMAND = re.compile(r"\\(?:boxed|fbox|framebox)(?![A-Za-z])")
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


_TEXT_COMMAND = re.compile(
    r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|mbox|operatorname)\s*\{([^{}]*)\}"
)


def _unwrap_text(text: str) -> str:
    """``\\text{(B)}`` -> ``(B)``: text commands only change the font."""
    for _ in range(3):
        unwrapped = _TEXT_COMMAND.sub(r"\1", text)
        if unwrapped == text:
            break
        text = unwrapped
    return text
