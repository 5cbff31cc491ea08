import pytest

from rewardspec.rewards.arithmetic import ArithmeticReward, check_equations, evaluate


@pytest.mark.parametrize("text", [
    "She has 3 * 12 = 36 apples.",
    "Total: 16 - 3 - 4 = 9 eggs, and 9 * 2 = $18.",
    "$12 \\times 24 = 288$",
    "That is 1,200 + 300 = 1,500 people.",
    "10 / 3 = 3.33 per person",
    "\\frac{3}{4} \\times 8 = 6",
    "7 × 9 = 63",
    "(4 + 6) * 3 = 30",
])
def test_correct_calculations_hold(text):
    checks = check_equations(text)
    assert checks and all(ok for _, ok in checks)
    assert ArithmeticReward().score("q", [], text).value == 1.0


@pytest.mark.parametrize("text", [
    "She has 3 * 12 = 38 apples.",
    "Then 16 - 3 - 4 = 8 eggs.",
    "$12 \\times 24 = 268$",
    "10 / 3 = 3.5 per person",
    "So 45 + 5 = 50 and 7 * 8 = 54.",
])
def test_wrong_calculations_are_caught(text):
    assert any(not ok for _, ok in check_equations(text))
    assert ArithmeticReward().score("q", [], text).value == 0.0


def test_steps_without_calculations_score_one():
    assert check_equations("First, find how many apples she eats.") == []
    assert ArithmeticReward().score("q", [], "Let x be the price.").value == 1.0


def test_evaluate_refuses_non_arithmetic():
    assert evaluate("2 ** 1000") is None
    assert evaluate("__import__('os')") is None
    assert evaluate("5 / 0") is None
    assert evaluate("2 + 3 * 4") == 14


def test_the_linear_scan_finds_what_the_old_pattern_found():
    """The regular expression this scan replaced, as an oracle on short random strings (where it
    is fast): without thousands commas and decimals, the two find exactly the same calculations."""
    import random
    import re

    from rewardspec.rewards.arithmetic import _agrees, normalize

    num = r"\d+(?:,\d{3})*(?:\.\d+)?"
    expr = rf"\(?\s*-?{num}\s*\)?(?:\s*[-+*/^]\s*\(?\s*-?{num}\s*\)?)+"
    old = re.compile(rf"(?P<lhs>{expr})\s*=\s*(?P<rhs>-?{num})(?![\d.]*\s*[-+*/^]\s*\d)")

    def old_check(text):
        out = []
        for m in old.finditer(normalize(text)):
            value = evaluate(m.group("lhs"))
            if value is not None:
                out.append((m.group(0).strip(), _agrees(value, m.group("rhs"))))
        return out

    rng = random.Random(0)
    alphabet = list("0123456789") * 3 + list("+-*/^ =()") * 2 + list("ax") + [" = ", " + "]
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20)))
        assert check_equations(text) == old_check(text), text


def test_a_comma_group_that_goes_on_is_not_a_result():
    # The old pattern backtracked into "96,528" and read "3*0 = 96" as a (wrong) calculation.
    assert check_equations("3*0 = 96,528*3184") == []
    assert check_equations("1,200 + 300 = 1,500 people") == [("1,200 + 300 = 1,500", True)]
