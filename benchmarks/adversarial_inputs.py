"""Time every text-processing path on adversarial inputs of growing length.

    python benchmarks/adversarial_inputs.py                      # this checkout
    python benchmarks/adversarial_inputs.py --src /old/checkout/src --label before

Each case builds an input from a pattern's building blocks (a "2 + " chain,
``\\boxed{`` repeated, unclosed ``\\[``, runs of spaces or words, ...) at
10^2 to 10^5 characters and times one call, made from a worker thread as the
server makes it (the main thread's SIGALRM deadline does not exist there). A case runs in a process
of its own, killed at ``--timeout`` seconds, so a pattern that backtracks
exponentially shows as "> T s" instead of hanging the benchmark. ``--src``
points at another checkout's ``src`` to measure the code before a change
with the same inputs. The SymPy cases are short inputs that are slow for
another reason (nesting, huge expansions); they are graded in a worker
thread, where the main thread's alarm cannot help.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LENGTHS = (100, 1_000, 10_000, 100_000)


def _repeat(block: str, n: int, tail: str = "") -> str:
    return block * max(1, (n - len(tail)) // len(block)) + tail


def _grading():
    from rewardspec import grading
    return grading


def _arith():
    from rewardspec.rewards.arithmetic import check_equations
    return check_equations


# name -> (what it calls, how the input of about n characters is built)
CASES = {
    "check_equations: '2 + 2 + ...' no '='": (lambda: _arith(), lambda n: _repeat("2 + ", n)),
    "check_equations: '\\[ Total = 2 + 2 ...'": (lambda: _arith(),
                                                 lambda n: "\\[ \\text{Total cost} = " + _repeat("2 + ", n)),
    "check_equations: '1 + 2 + ... = \\frac{}'": (
        lambda: _arith(), lambda n: " + ".join(str(i) for i in range(1, n // 4)) + " = \\frac{n(n+1)}{2}"),
    "check_equations: '3 \\times 3 ...' chain": (lambda: _arith(), lambda n: _repeat("3 \\times ", n)),
    "check_equations: digits without spaces": (lambda: _arith(), lambda n: _repeat("1", n, "+1=")),
    "extract_answer: '\\boxed{' repeated": (lambda: _grading().extract_answer, lambda n: _repeat("\\boxed{", n)),
    "extract_answer: '\\boxed{1}' repeated": (lambda: _grading().extract_answer, lambda n: _repeat("\\boxed{1} ", n)),
    "final_answer: unclosed '\\[' repeated": (lambda: _grading().final_answer, lambda n: _repeat("\\[ x", n)),
    "final_answer: unclosed '\\(' repeated": (lambda: _grading().final_answer, lambda n: _repeat("\\( x", n)),
    "final_answer: one unclosed '\\[' then text": (lambda: _grading().final_answer, lambda n: "\\[" + _repeat("x ", n)),
    "final_answer: '$' repeated": (lambda: _grading().final_answer, lambda n: _repeat("$ x\\$", n)),
    "final_answer: 'the answer is' repeated": (lambda: _grading().final_answer,
                                               lambda n: _repeat("the answer is ", n)),
    "is_correct: spaces then 'percent'": (lambda: _grading().is_correct,
                                          lambda n: "\\boxed{5" + " " * n + "percent}", "5"),
    "is_correct: spaces, no 'percent'": (lambda: _grading().is_correct,
                                         lambda n: "\\boxed{5" + " " * n + "x}", "5"),
    "is_correct: words after a number": (lambda: _grading().is_correct,
                                         lambda n: "\\boxed{5 " + _repeat("ab ", n) + "}", "5"),
    "is_correct: words, then a number": (lambda: _grading().is_correct,
                                         lambda n: "\\boxed{5 " + _repeat("ab ", n) + "7}", "5"),
    "is_correct: words, trailing space": (lambda: _grading().is_correct,
                                          lambda n: "The answer is 5 " + _repeat("ab ", n), "5"),
    "is_correct: list of many items": (lambda: _grading().is_correct,
                                       lambda n: "\\boxed{" + _repeat("1 ,", n) + "2}", "1, 2"),
    "is_correct: long correct response": (lambda: _grading().is_correct,
                                          lambda n: _repeat("We add 2 and 3 to get 5. ", n, "\\boxed{\\frac{1}{2}}"),
                                          "0.5"),
    "is_correct: nested boxes, list gold": (lambda: _grading().is_correct,
                                            lambda n: "\\boxed{" * (n // 8) + "1" + "}" * (n // 8), "1, 2"),
    "extract_gold: spaces before 'solution'": (
        lambda: (lambda text: _grading().extract_gold({"answer": text}, "math")),
        lambda n: "145" + " " * n + "x"),
}

# Short inputs that are slow inside SymPy; graded off the main thread.
SYMPY_CASES = {
    "is_correct in a thread: {{...}} 14 deep": ("\\boxed{" + "{" * 14 + "x" + "}" * 14 + "}", "y"),
    "is_correct in a thread: \\frac nested 20 deep": ("\\boxed{" + "\\frac{1}{" * 20 + "2" + "}" * 20 + "}", "3"),
    "is_correct in a thread: \\binom{10^6}{500000}": ("\\boxed{\\binom{10^6}{500000}}", "1"),
    "is_correct in a thread: (x+y+z)^{60}": ("\\boxed{(x+y+z)^{60}}", "(x+y+z)^{61}"),
    "is_correct in a thread: 10^{10^{10}}": ("\\boxed{10^{10^{10}}}", "1"),
}


def _child(name: str) -> None:
    """Run one case at each length, printing one JSON line per finished length."""
    import threading

    if name in SYMPY_CASES:
        response, gold = SYMPY_CASES[name]
        _grading().is_correct("\\boxed{1}", "1")  # imports and warm-up outside the timing
        out: list[float] = []

        def grade() -> None:
            started = time.perf_counter()
            _grading().is_correct(response, gold)
            out.append(time.perf_counter() - started)

        worker = threading.Thread(target=grade)
        worker.start()
        worker.join()
        print(json.dumps({"n": len(response), "seconds": out[0]}), flush=True)
        return
    fn_factory, build, *extra = CASES[name]
    fn = fn_factory()
    _grading().is_correct("\\boxed{1}", "1")
    for n in LENGTHS:
        text = build(n)
        result: list = []
        # In a worker thread, as the server and concurrent graders call these: no alarm there.
        worker = threading.Thread(target=lambda: result.append(fn(text, *extra)))
        started = time.perf_counter()
        worker.start()
        worker.join()
        shown = result[0] if isinstance(result[0], bool) else None
        print(json.dumps({"n": n, "seconds": time.perf_counter() - started, "result": shown}), flush=True)


def _run_case(name: str, src: str, timeout: float) -> list[str]:
    """Cells for one case: seconds per length, or '> T s' from the first that did not finish."""
    env = {**os.environ, "PYTHONPATH": src}
    proc = subprocess.Popen([sys.executable, __file__, "--child", name], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    lengths = [len(SYMPY_CASES[name][0])] if name in SYMPY_CASES else list(LENGTHS)
    cells: list[str] = []
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    # The first length includes the import of math-verify: allow for it once.
    deadline = time.monotonic() + timeout + 30
    while len(cells) < len(lengths):
        ready = sel.select(max(0.0, deadline - time.monotonic()))
        line = proc.stdout.readline() if ready else ""
        if not line:
            break
        row = json.loads(line)
        cells.append(f"{row['seconds']:.3f}" + ("" if row.get("result") is None else f" ({row['result']})"))
        deadline = time.monotonic() + timeout
    proc.kill()
    proc.wait()
    cells += [f"> {timeout:g} s"] * (len(lengths) - len(cells))
    return cells


def _step_table() -> None:
    """Step cutting and detokenising n tokens: a full rescan per token (``cut_generation`` on
    the whole text, ``detokenize`` of the whole output) against the
    incremental ``StepCutter`` and ``ByteDetokenizer``, side by side in one process."""
    from rewardspec.detokenize import ByteDetokenizer
    from rewardspec.registry import resolve_gguf
    from rewardspec.steps import StepCutter, cut_generation

    import llama_cpp

    path, _ = resolve_gguf("tiny")
    llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    # A looping step, and 16 client stop strings that nearly match it all the time.
    tokens = llm.tokenize(("2 + " * 8000).encode(), add_bos=False)
    stops = tuple("2 + " * (i + 1) + "3" for i in range(16))
    print("| tokens | cut: full rescan (before) | cut: StepCutter (after) | ratio "
          "| decode: whole output (before) | decode: ByteDetokenizer (after) | ratio |\n"
          "|---|---|---|---|---|---|---|")
    for n in (256, 1024, 4096):
        out = tokens[:n]
        started = time.perf_counter()
        for i in range(1, n + 1):
            text = llm.detokenize(out[:i]).decode("utf-8", errors="ignore")
        old_decode = time.perf_counter() - started
        started = time.perf_counter()
        detok = ByteDetokenizer(lambda t: llm.detokenize([t]))
        pieces = [detok.push(t) for t in out]
        new_decode = time.perf_counter() - started
        assert "".join(pieces) + detok.flush() == text
        started = time.perf_counter()
        grown = ""
        for piece in pieces:
            grown += piece
            cut_generation(grown, "\n\n", stops)
        old_cut = time.perf_counter() - started
        started = time.perf_counter()
        cutter = StepCutter("\n\n", stops, repetition_limit=0)
        for token, piece in zip(out, pieces):
            cutter.push(piece, token)
        new_cut = time.perf_counter() - started
        print(f"| {n} | {old_cut:.3f} s | {new_cut:.3f} s | {old_cut / new_cut:.0f}x "
              f"| {old_decode:.3f} s | {new_decode:.3f} s | {old_decode / new_decode:.0f}x |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", default=str(ROOT / "src"), help="the src directory to measure")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per call before it counts as hung")
    parser.add_argument("--label", default="", help="a label for the table's title")
    parser.add_argument("--only", default="", help="run only cases whose name contains this")
    parser.add_argument("--json", type=Path, help="also write the cells to this file")
    parser.add_argument("--steps", action="store_true",
                        help="instead: step cutting and decoding, the old per-token way against the new")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return
    if args.steps:
        _step_table()
        return
    print(f"## {args.label or args.src}: seconds for one call (a hang detector, not a speed test)\n")
    print("Each call runs in a worker thread, as in the server (no SIGALRM deadline there);\n"
          "is_correct's verdict is shown in brackets.\n")
    print("| case | 10^2 chars | 10^3 chars | 10^4 chars | 10^5 chars |\n|---|---|---|---|---|")
    results = {}
    for name in CASES:
        if args.only in name:
            results[name] = _run_case(name, args.src, args.timeout)
            print(f"| {name} | " + " | ".join(results[name]) + " |", flush=True)
    print("\n| SymPy case (graded in a worker thread) | input chars | seconds |\n|---|---|---|")
    for name, (response, _) in SYMPY_CASES.items():
        if args.only in name:
            results[name] = _run_case(name, args.src, args.timeout)
            print(f"| {name} | {len(response)} | {results[name][0]} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
