"""Where a reasoning step ends, decided on decoded text.

Tokenizers merge the separator with its neighbours (".\\n\\n", ":\\n\\n",
"\\n\\n\\n"), so a step can't be cut at a token id: the decoded text is
searched instead. A separator before any visible character does not end a
step, otherwise a model that opens with a blank line would write empty steps.
"""

from __future__ import annotations

DEFAULT_SEPARATOR = "\n\n"


def find_step_end(text: str, separator: str = DEFAULT_SEPARATOR) -> int | None:
    """Index just past the first separator that follows visible text, or None."""
    if not separator:
        return None
    start = len(text) - len(text.lstrip())
    if start == len(text):
        return None
    idx = text.find(separator, start)
    if idx < 0:
        return None
    return idx + len(separator)


def find_stop(text: str, stops: list[str] | tuple[str, ...]) -> int | None:
    """Index where the earliest stop string begins, or None."""
    hits = [i for s in stops if s and (i := text.find(s)) >= 0]
    return min(hits) if hits else None


def cut_generation(text: str, separator: str, stops) -> tuple[str, str] | None:
    """Where a backend stops generating: (text kept, "stop" | "step"), or None to go on.

    A stop string wins over the step separator: it ends the whole answer.
    """
    end = find_stop(text, stops)
    if end is not None:
        return text[:end], "stop"
    end = find_step_end(text, separator)
    if end is not None:
        return text[:end], "step"
    return None


def split_steps(text: str, separator: str = DEFAULT_SEPARATOR) -> list[str]:
    """Cut a finished response into steps; each keeps its trailing separator."""
    steps: list[str] = []
    rest = text
    while rest:
        end = find_step_end(rest, separator)
        if end is None:
            steps.append(rest)
            break
        steps.append(rest[:end])
        rest = rest[end:]
    return steps
