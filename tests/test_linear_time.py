"""Hang detectors: every pattern applied to model output, dataset text or request input
finishes on adversarial inputs of 10^2, 10^3 and 10^4 characters.

The inputs repeat each pattern's building blocks, with and without a trailing
mismatch. The old code did not finish several of them at all (the "2 + 2 + ..."
chain backtracked exponentially: 14 terms took over a minute). The bound is
generous: it tells a hang from a slow machine, it is not a performance target. Each test's
``pytest.mark.timeout`` is that bound: a hang fails the test, and no test asserts a duration
(timings of these inputs are benchmarks/adversarial_inputs.py's job).
"""

from __future__ import annotations

import threading

import pytest

from rewardspec.eval.datasets import _TRAILING_ANSWER
from rewardspec.grading import answers_equivalent, extract_answer, extract_choice, extract_gold, final_answer, is_correct
from rewardspec.rewards.arithmetic import ArithmeticReward, check_equations
from rewardspec.steps import StepCutter, split_steps

LENGTHS = (100, 1_000, 10_000)


def _repeat(block: str, n: int, tail: str = "") -> str:
    return block * max(1, n // len(block)) + tail


def _timed(fn, *args):
    """The call, under the test's timeout (a hang fails the test; a duration is not asserted)."""
    return fn(*args)


ARITHMETIC_INPUTS = {
    "chain, no '='": lambda n: _repeat("2 + ", n),
    "chain, trailing mismatch": lambda n: _repeat("2 + ", n, "= x"),
    "the looping draft's step": lambda n: "\\[ \\text{Total cost} = " + _repeat("2 + ", n),
    "sum then a fraction": lambda n: " + ".join(str(i) for i in range(1, max(3, n // 4))) + " = \\frac{n}{2}",
    "times chain": lambda n: _repeat("3 \\times ", n),
    "digits, no spaces": lambda n: _repeat("1", n, "+1="),
    "parentheses": lambda n: _repeat("(2 + ", n, ") = 4"),
    "minus signs": lambda n: _repeat("- -3 ", n, "= 1"),
    "commas": lambda n: _repeat("1,000,", n, "+ 1 = 2"),
}


# Most inputs hold no calculation the checker takes (a chain with no result, a result that is
# no number, more than MAX_OPERANDS operands), so the reward has no evidence against them: 1.0.
# Twenty "-3"s, the short "minus signs" input, are a real calculation, and a wrong one.
WRONG_CALCULATION = {("minus signs", 100)}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("name", ARITHMETIC_INPUTS)
def test_arithmetic_check_is_linear(name, n):
    text = ARITHMETIC_INPUTS[name](n)
    wrong = (name, n) in WRONG_CALCULATION
    assert [holds for _, holds in _timed(check_equations, text)] == ([False] if wrong else [])
    assert ArithmeticReward().score("q", [], text).value == (0.0 if wrong else 1.0)


def test_a_forty_term_chain_is_checked_when_it_ends_in_a_result():
    chain = " + ".join(["2"] * 40)
    assert _timed(check_equations, f"\\[ {chain} = 80 \\]") == [(f"{chain} = 80", True)]
    assert _timed(check_equations, f"{chain} = 81") == [(f"{chain} = 81", False)]
    # Past MAX_OPERANDS a chain is no hand arithmetic: it is skipped, not evaluated.
    assert check_equations(" + ".join(["2"] * 200) + " = 400") == []


GRADING_INPUTS = {
    "boxes unclosed": lambda n: _repeat("\\boxed{", n),
    "boxes closed": lambda n: _repeat("\\boxed{1} ", n),
    "boxes nested": lambda n: _repeat("\\boxed{", n) + "1" + "}" * (n // 7),
    "unclosed \\[": lambda n: _repeat("\\[ x", n),
    "unclosed \\(": lambda n: _repeat("\\( x", n),
    "one unclosed \\[ then text": lambda n: "\\[" + _repeat("x ", n),
    "dollars": lambda n: _repeat("$ x\\$", n),
    "double dollars": lambda n: _repeat("$$ x", n),
    "answer cues": lambda n: _repeat("the answer is ", n),
    "spaces then percent": lambda n: "\\boxed{5" + " " * n + "percent}",
    "spaces then a mismatch": lambda n: "\\boxed{5" + " " * n + "x}",
    "words after a number": lambda n: "\\boxed{5 " + _repeat("ab ", n) + "}",
    "words, trailing space": lambda n: "The answer is 5 " + _repeat("ab ", n),
    "list items": lambda n: "\\boxed{" + _repeat("1 ,", n) + "2}",
    "spaces around slashes": lambda n: "\\boxed{1" + " " * n + "/ 2}",
    "option letters": lambda n: _repeat("(A) (B) ", n),
    "digits with commas": lambda n: _repeat("1,000,", n, "5"),
    "number words": lambda n: _repeat("twenty one ", n),
    "hyphenated number words": lambda n: _repeat("twenty-", n),
    "abbreviations": lambda n: _repeat("Mr. ", n, "five"),
    "checks": lambda n: _repeat("\nCheck: 5 ", n),
    "so, so, so": lambda n: _repeat("so ", n, "three"),
    "an order chain": lambda n: "\\boxed{" + _repeat("a < ", n) + "b}",
    "set-builder conditions": lambda n: "\\boxed{\\{x \\mid " + _repeat("x \\neq 1, ", n) + "x > 0\\}}",
    "quantifiers": lambda n: "\\boxed{f(n) = n " + _repeat("for all ", n) + "}",
    "plus-minus in fractions": lambda n: "\\boxed{" + _repeat("\\frac{1 \\pm 2}{3}, ", n) + "}",
    "prose": lambda n: "The answer is " + _repeat("necessary but not ", n),
}


GOLDS = ("5", "1, 2", "\\frac{1}{2}", "B", "b > a > c", "(-\\infty,0)\\cup(0,\\infty)", "$5$solution:")
# The golds each input grades correct against, at every length; it is wrong against the rest.
CORRECT = {
    "spaces then percent": {"5", "$5$solution:"},
    "words after a number": {"5", "$5$solution:"},
    "words, trailing space": {"5", "$5$solution:"},
    "abbreviations": {"5", "$5$solution:"},
    "checks": {"5", "$5$solution:"},
    "spaces around slashes": {"\\frac{1}{2}"},
}
# Inputs whose first 5,000 characters are equivalent to 5 (a longer "spaces then a mismatch"
# loses its mismatch to the cut, and is one of them too).
FIVE_WHEN_CUT = {"spaces then percent", "words after a number"}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("name", GRADING_INPUTS)
def test_extraction_and_grading_are_linear(name, n):
    text = GRADING_INPUTS[name](n)
    _timed(extract_answer, text)
    _timed(final_answer, text, "math")
    _timed(final_answer, text, "gsm8k")
    _timed(extract_choice, text)
    assert {gold for gold in GOLDS if _timed(is_correct, text, gold)} == CORRECT.get(name, set())
    assert _timed(is_correct, text, "(E)", "math", text) is False  # the text as a question
    five = name in FIVE_WHEN_CUT or (name == "spaces then a mismatch" and len(text) > 5_000)
    assert _timed(answers_equivalent, text[:5_000], "5") is five


@pytest.mark.timeout(60)
@pytest.mark.parametrize("n", LENGTHS)
def test_dataset_text_is_read_in_linear_time(n):
    assert _timed(lambda t: extract_gold({"answer": t}, "math"), "145" + " " * n + "x") == "145" + " " * n + "x"
    assert extract_gold({"answer": "$145$" + " " * n + "solution:"}, "math") == "145"
    assert _timed(_TRAILING_ANSWER.search, "saddle point" + " " * n + "x") is None


@pytest.mark.timeout(120)
def test_a_correct_but_very_long_response_still_grades_correct():
    response = _repeat("We add 2 and 3 to get 5. ", 100_000) + "So the answer is \\boxed{\\frac{1}{2}}."
    assert _timed(is_correct, response, "0.5")
    assert _timed(is_correct, response, "\\dfrac{2}{4}")


# -- the grader off the main thread -----------------------------------------------------


def _grade_in_thread(response: str, gold: str) -> bool:
    out: list[bool] = []
    worker = threading.Thread(target=lambda: out.append(is_correct(response, gold)))
    worker.start()
    worker.join(60)  # a hang guard: the grader's own budget is 1 s, the helper's start about one more
    assert not worker.is_alive(), "grading in a worker thread hung"
    return out[0]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("response,gold", [
    ("\\boxed{" + "{" * 14 + "x" + "}" * 14 + "}", "y"),
    ("\\boxed{" + "\\frac{1}{" * 20 + "2" + "}" * 20 + "}", "3"),
    ("\\boxed{\\binom{10^6}{500000}}", "1"),
    ("\\boxed{(x+y+z)^{60}}", "(x+y+z)^{61}"),
    ("\\boxed{10^{10^{10}}}", "1"),
    ("\\boxed{1000000!}", "1"),
])
def test_grading_never_hangs_in_a_worker_thread(response, gold):
    assert _grade_in_thread(response, gold) is False


@pytest.mark.timeout(300)
def test_symbolic_grading_still_works_in_a_worker_thread():
    assert _grade_in_thread("So \\boxed{\\frac{\\sqrt{2}}{2}}", "\\frac{1}{\\sqrt{2}}") is True
    assert _grade_in_thread("So \\boxed{x^2 + 2x + 1}", "(x+1)^2") is True
    assert _grade_in_thread("So \\boxed{x^2 + 2x}", "(x+1)^2") is False
    # Several graders at once share the helper process.
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(is_correct("\\boxed{2\\pi}", "\\pi+\\pi")))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [True] * 4


# -- step cutting ---------------------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize("n", (256, 4096))
def test_step_cutting_is_linear_with_many_long_stops(n):
    stops = tuple(f"{'x' * 200}{i}" for i in range(16))  # the most a request may send, never matching
    cutter = StepCutter("\n\n", stops, repetition_limit=0)
    for i in range(n):
        assert cutter.push("x" * 3 + str(i % 10), i) is None
    assert len(cutter.text) == 4 * n


@pytest.mark.timeout(60)
def test_split_steps_is_linear():
    text = _repeat("a.\n\n", 400_000)
    steps = _timed(split_steps, text)
    assert len(steps) == 100_000 and "".join(steps) == text
