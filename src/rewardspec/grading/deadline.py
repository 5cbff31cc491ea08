"""SymPy comparisons (through math-verify) under a hard time budget, in any thread.

SymPy can take seconds, or forever, on short inputs: ``{{{{...}}}}`` nested
fourteen deep, ``\\frac`` nested twenty deep, ``(x+y+z)^{60}``. Grading must
never hang, and it runs on the main thread (eval) as well as in worker
threads (the server, concurrent graders). So:

* on the main thread a SIGALRM deadline interrupts SymPy (cheap, in-process);
* in any other thread, where no signal can be armed, the comparison runs in
  a helper process (``python -m rewardspec.grading.worker``), which is killed and
  started again when it runs past its time;
* inputs that would keep SymPy inside one long C call (a tower of powers, a
  factorial of thousands, brackets nested deeper than any answer) are refused
  before SymPy sees them, since neither deadline can cut a C call short.

A comparison that is refused, fails or runs out of time is "not equal".
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

__all__ = ["symbolic_equal", "refused"]

#: Brackets nested deeper than this are no final answer; SymPy is exponential in the depth.
MAX_NESTING = 8
#: The helper process gets this long to start (import SymPy and build the LaTeX parser).
WORKER_START_S = 120.0

# Inputs SymPy would chew on inside C code: towers and huge powers, factorials of
# thousands, binomials of large numbers.
_REFUSED = re.compile(
    r"\^\s*\{[^{}]*\^|\^\s*\{?\s*\d{7,}|\d{4,}\s*!|\\binom\s*\{[^{}]*(?:\d{4,}|\^)"
)


class _OutOfTime(BaseException):
    """Raised by the alarm; a BaseException so that SymPy's ``except Exception`` lets it pass."""


@lru_cache(maxsize=1)
def _math_verify() -> tuple[Callable[..., list], Callable[..., bool], Any]:
    """Import math-verify (and SymPy) once, on first use, outside any time budget."""
    import math_verify
    from math_verify import grader, parser

    # We time SymPy ourselves, so tell math-verify its "no timeout" warning was shown.
    grader.TIMEOUT_WARNING_SHOWN = parser.TIMEOUT_WARNING_SHOWN = True
    # Units are ours to strip: math-verify's list also drops "am", "pm", "c" and "t".
    normalization = math_verify.LatexNormalizationConfig(
        basic_latex=True, units=False, malformed_operators=True, nits=True, boxed="all", equations=False
    )
    config = math_verify.LatexExtractionConfig(normalization_config=normalization)
    # The first parse builds the LaTeX parser, which is slow: do it here, not inside a time budget.
    warm = math_verify.parse(r"$\frac{\sqrt{2}}{2}+\pi x$", extraction_config=[config], parsing_timeout=None)
    math_verify.verify(warm, warm, timeout_seconds=None)
    return math_verify.parse, math_verify.verify, config


def available() -> bool:
    try:
        _math_verify()
    except Exception:
        return False
    return True


@lru_cache(maxsize=4096)
def _parsed(latex: str) -> tuple:
    parse, _, config = _math_verify()
    return tuple(parse(f"${latex}$", extraction_config=[config], parsing_timeout=None))


def _verify(pred: str, gold: str) -> bool:
    """math-verify's verdict, with no time limit of its own."""
    _, verify, _ = _math_verify()
    gold_parsed, pred_parsed = _parsed(gold), _parsed(pred)
    if not gold_parsed or not pred_parsed:
        return False
    return bool(verify(list(gold_parsed), list(pred_parsed), timeout_seconds=None,
                       allow_set_relation_comp=True))


def nesting_depth(text: str) -> int:
    """How deep brackets of any kind nest in ``text``."""
    depth = deepest = 0
    for char in text:
        if char in "({[":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")}]":
            depth = max(0, depth - 1)
    return deepest


def refused(text: str) -> bool:
    """Whether ``text`` is too risky for SymPy at any budget."""
    return bool(_REFUSED.search(text)) or nesting_depth(text) > MAX_NESTING


# -- the main thread: an alarm --------------------------------------------------------


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Raise ``_OutOfTime`` in the block after ``seconds`` (main thread only, like all signals).

    The alarm repeats every 50 ms until the block ends, so a stray ``except:`` in
    SymPy cannot swallow it for good; an outer timer (pytest-timeout) is restored.
    """
    state = {"armed": True}

    def on_alarm(signum: int, frame: Any) -> None:
        if state["armed"]:
            raise _OutOfTime

    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
    started = time.monotonic()
    try:
        yield
    finally:
        while True:  # the alarm may strike while we disarm it; retry until disarmed
            try:
                state["armed"] = False
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, signal.SIG_DFL if previous_handler is None else previous_handler)
                break
            except _OutOfTime:
                continue
        if outer_delay > 0:
            remaining = max(outer_delay - (time.monotonic() - started), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, remaining, outer_interval)


def _can_alarm() -> bool:
    return hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()


def _in_process(pred: str, gold: str, seconds: float) -> bool | None:
    try:
        with _deadline(seconds):
            return _verify(pred, gold)
    except _OutOfTime:
        return None
    except Exception:
        return False


# -- other threads: a helper process ---------------------------------------------------


class _Worker:
    """One helper process that compares answers, killed and restarted when it runs too long."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._lines: queue.Queue[str] = queue.Queue()

    def ask(self, pred: str, gold: str, seconds: float) -> bool | None:
        """The verdict, or None if the helper ran out of time (or could not start)."""
        with self._lock:
            if not self._start():
                return None
            assert self._proc is not None and self._proc.stdin is not None
            try:
                self._proc.stdin.write(json.dumps([pred, gold]) + "\n")
                self._proc.stdin.flush()
                answer = self._lines.get(timeout=max(seconds, 1e-3))
            except (OSError, queue.Empty):
                self._stop()
                return None
            if answer not in ("0", "1"):  # the helper died on this input
                self._stop()
                return None
            return answer == "1"

    def _start(self) -> bool:
        if self._proc is not None and self._proc.poll() is None:
            return True
        self._lines = queue.Queue()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "rewardspec.grading.worker"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
                env=_child_env())
        except OSError:
            self._proc = None
            return False
        threading.Thread(target=_pump, args=(self._proc.stdout, self._lines), daemon=True,
                         name="rewardspec-sympy-reader").start()
        try:
            ready = self._lines.get(timeout=WORKER_START_S)
        except queue.Empty:
            ready = ""
        if ready != "ready":
            self._stop()
            return False
        return True

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None


def _child_env() -> dict[str, str]:
    """This environment, with the directory rewardspec was imported from on the path."""
    import rewardspec

    package_root = os.path.dirname(os.path.dirname(os.path.abspath(rewardspec.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line.strip())
    lines.put("")  # the helper exited: whoever waits for a line hears it at once


_worker = _Worker()
atexit.register(_worker._stop)


def serve() -> None:
    """The helper process: one JSON ``[pred, gold]`` per line in, ``1`` or ``0`` per line out."""
    _math_verify()
    print("ready", flush=True)
    for line in sys.stdin:
        pred, gold = json.loads(line)
        try:
            verdict = _verify(pred, gold)
        except Exception:
            verdict = False
        print("1" if verdict else "0", flush=True)


# -- the entry point ----------------------------------------------------------------

_too_slow: set[tuple[str, str]] = set()


def symbolic_equal(pred: str, gold: str, seconds: float) -> bool:
    """Whether math-verify finds ``pred`` and ``gold`` equal within ``seconds``."""
    if seconds <= 0 or refused(pred) or refused(gold) or (pred, gold) in _too_slow:
        return False
    if not available():
        return False
    verdict = _in_process(pred, gold, seconds) if _can_alarm() else _worker.ask(pred, gold, seconds)
    if verdict is None:
        if len(_too_slow) < 10_000:
            _too_slow.add((pred, gold))  # sampled responses repeat: do not wait for SymPy twice
        return False
    return verdict

