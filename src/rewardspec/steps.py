"""Where a reasoning step ends, decided on decoded text.

Tokenizers merge the separator with its neighbours (".\\n\\n", ":\\n\\n",
"\\n\\n\\n"), so a step can't be cut at a token id: the decoded text is
searched instead. A separator before any visible character does not end a
step, otherwise a model that opens with a blank line would write empty steps.

A backend follows a generation token by token with a :class:`StepCutter`,
which looks for the separator and the stop strings only in the text each
token adds, so a step costs time linear in its length. It also ends a step
that has fallen into a loop (a span of tokens repeating with a short period,
or the same line again and again) as "degenerate": a looping draft would
otherwise spend its whole budget on one step.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from rewardspec.errors import InvalidInputError

DEFAULT_SEPARATOR = "\n\n"

#: Limits on client stop strings; OpenAI allows 4, we allow more, but not without bound.
MAX_STOPS = 16
MAX_STOP_CHARS = 256
#: A step whose last tokens repeat with a period of at most ``_MAX_PERIOD`` tokens over
#: this many tokens (and at least ``_MIN_REPEATS`` periods) is a loop.
DEFAULT_REPETITION_LIMIT = 64
_MAX_PERIOD = 32
_MIN_REPEATS = 4
#: The same non-empty line this many times in a row is a loop too (periods too long for the above).
_LINE_REPEATS = 4


def find_step_end(text: str, separator: str = DEFAULT_SEPARATOR, start: int = 0) -> int | None:
    """Index just past the first separator after ``start`` that follows visible text, or None."""
    if not separator:
        return None
    visible = _VISIBLE.search(text, start)
    if visible is None:
        return None
    idx = text.find(separator, visible.start())
    if idx < 0:
        return None
    return idx + len(separator)


_VISIBLE = re.compile(r"\S")


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


def check_stops(stops: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The stop strings, refused in one clear line when there are too many or one is too long."""
    stops = tuple(s for s in stops if s)
    if len(stops) > MAX_STOPS:
        raise InvalidInputError(f"at most {MAX_STOPS} stop strings are allowed; got {len(stops)}")
    for stop in stops:
        if len(stop) > MAX_STOP_CHARS:
            raise InvalidInputError(
                f"a stop string may be at most {MAX_STOP_CHARS} characters; got one of {len(stop)}")
    return stops


@dataclass(frozen=True)
class Cut:
    """Where a generation ends: the text kept, and why ("stop", "step" or "degenerate")."""

    text: str
    reason: str


class RepetitionGuard:
    """Notices when the newest tokens repeat a short pattern, in O(periods) per token.

    For each period p it keeps how many of the newest tokens equal the token
    p places before them; a run that covers ``limit`` tokens (and at least
    ``_MIN_REPEATS`` periods) is a loop. ``limit=0`` turns the guard off.
    """

    def __init__(self, limit: int = DEFAULT_REPETITION_LIMIT, max_period: int = _MAX_PERIOD) -> None:
        self.limit, self.max_period = limit, max_period
        self.tokens: deque[int] = deque(maxlen=max_period + 1)  # all a comparison looks back to
        self.runs = [0] * (max_period + 1)

    def push(self, token: int) -> bool:
        """Add a token; True when the tokens so far end in a loop."""
        if self.limit <= 0:
            return False
        tokens, runs = self.tokens, self.runs
        tokens.append(token)
        n = len(tokens)
        looping = False
        for p in range(1, min(self.max_period, n - 1) + 1):
            if tokens[n - 1 - p] == token:
                runs[p] += 1
                if runs[p] + p >= max(self.limit, _MIN_REPEATS * p):
                    looping = True
            else:
                runs[p] = 0
        return looping


class StepCutter:
    """Follows one generation and says when it must end; the incremental :func:`cut_generation`.

    Each :meth:`push` searches only the new text plus the few characters
    before it that a separator or stop string could straddle, so a step of n
    tokens costs O(n) however many stop strings there are (within
    :data:`MAX_STOPS` x :data:`MAX_STOP_CHARS`).
    """

    def __init__(self, separator: str, stops: tuple[str, ...] | list[str] = (),
                 repetition_limit: int = DEFAULT_REPETITION_LIMIT) -> None:
        self.separator = separator
        self.stops = tuple(s for s in stops if s)
        self._overlap = max([len(s) for s in (*self.stops, separator) if s] or [1]) - 1
        self._parts: list[str] = []
        self._length = 0
        self._tail = ""
        self._visible_at: int | None = None
        self._repeats = RepetitionGuard(repetition_limit)
        self._line: list[str] = []
        self._last_line: str | None = None
        self._same_lines = 0
        self._check_lines = repetition_limit > 0

    @property
    def text(self) -> str:
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    def push(self, piece: str, token: int | None = None) -> Cut | None:
        """Add the text one token decoded to; a :class:`Cut` when the generation ends here."""
        window = self._tail + piece
        offset = self._length - len(self._tail)
        self._parts.append(piece)
        self._length += len(piece)
        self._tail = window[max(0, len(window) - self._overlap):] if self._overlap else ""
        hits = [i for s in self.stops if (i := window.find(s)) >= 0]
        if hits:
            return Cut(self.text[: offset + min(hits)], "stop")
        if self._visible_at is None and piece.strip():
            self._visible_at = self._length - len(piece) + (len(piece) - len(piece.lstrip()))
        if self._visible_at is not None and self.separator:
            at = window.find(self.separator, max(0, self._visible_at - offset))
            if at >= 0:
                return Cut(self.text[: offset + at + len(self.separator)], "step")
        looping = token is not None and self._repeats.push(token)
        if self._check_lines:
            if "\n" in piece:
                looping = self._lines_repeat(piece) or looping
            else:
                self._line.append(piece)
        return Cut(self.text, "degenerate") if looping else None

    def _lines_repeat(self, piece: str) -> bool:
        """Whether the line just completed is the same as the ``_LINE_REPEATS - 1`` before it."""
        *done, rest = piece.split("\n")
        looping = False
        for part in done:
            self._line.append(part)
            line = "".join(self._line).strip()
            self._line = []
            if line and line == self._last_line:
                self._same_lines += 1
            else:
                self._same_lines = 1 if line else 0
            self._last_line = line
            looping = looping or self._same_lines >= _LINE_REPEATS
        self._line.append(rest)
        return looping


def split_steps(text: str, separator: str = DEFAULT_SEPARATOR) -> list[str]:
    """Cut a finished response into steps; each keeps its trailing separator."""
    steps: list[str] = []
    start = 0
    while start < len(text):
        end = find_step_end(text, separator, start)
        if end is None:
            steps.append(text[start:])
            break
        steps.append(text[start:end])
        start = end
    return steps
