import random

import pytest

from rewardspec.errors import InvalidInputError
from rewardspec.steps import (
    RepetitionGuard,
    StepCutter,
    check_stops,
    cut_generation,
    find_step_end,
    find_stop,
    split_steps,
)


def test_separator_merged_with_punctuation():
    # Tokens such as ".\n\n" or ":\n\n" carry the separator: found on decoded text.
    for text in ["Add them.\n\n", "We compute:\n\n", "x = 3\n\n\n"]:
        end = find_step_end(text)
        assert end is not None and text[:end].endswith("\n\n")


def test_text_after_separator_in_same_token_is_cut():
    text = "So 3 + 4 = 7.\n\nNext"
    end = find_step_end(text)
    assert text[:end] == "So 3 + 4 = 7.\n\n"


def test_no_separator_yet_and_leading_blank_lines():
    assert find_step_end("So 3 + 4 = 7.\n") is None
    assert find_step_end("\n\n") is None
    assert find_step_end("\n\nStep one.\n\n") == len("\n\nStep one.\n\n")


def test_custom_separator_and_empty():
    assert find_step_end("a; b", "; ") == 3
    assert find_step_end("a\n\nb", "") is None


def test_split_steps_round_trips():
    text = "One.\n\nTwo:\n\nThree"
    steps = split_steps(text)
    assert steps == ["One.\n\n", "Two:\n\n", "Three"]
    assert "".join(steps) == text


def test_find_stop_earliest():
    assert find_stop("abc STOP def END", ["END", "STOP"]) == 4
    assert find_stop("abc", ["x", ""]) is None


def test_cut_generation_prefers_stop_strings():
    assert cut_generation("a.\n\nb", "\n\n", ()) == ("a.\n\n", "step")
    assert cut_generation("a STOP.\n\nb", "\n\n", ("STOP",)) == ("a ", "stop")
    assert cut_generation("a.\n", "\n\n", ()) is None


# -- incremental cutting, loops, stop limits ----------------------------------------------


def test_step_cutter_cuts_where_the_whole_text_rule_cuts():
    rng = random.Random(1)
    pieces = ["a", "b", "\n", "\n\n", ".\n\n", " ", "ST", "OP", "STOP", "x\n", "E", "ND", "\n\n\n", "  "]
    for _ in range(5000):
        stops = rng.choice([(), ("STOP",), ("STOP", "END"), ("b\nE",), ("\n",)])
        separator = rng.choice(["\n\n", "; ", "ab"])
        cutter, text = StepCutter(separator, stops, repetition_limit=0), ""
        for _ in range(rng.randint(1, 12)):
            piece = rng.choice(pieces)
            text += piece
            whole, cut = cut_generation(text, separator, stops), cutter.push(piece)
            assert (whole is None) == (cut is None), (text, stops, separator)
            if whole is not None:
                assert (cut.text, cut.reason) == whole
                break


def test_repetition_guard_flags_short_loops_only():
    guard = RepetitionGuard(limit=64)
    flagged = [guard.push(t) for t in [17, 4, 99] * 40]  # "2 + 2 + ..." as tokens
    assert not any(flagged[:63]) and flagged.index(True) == 63
    guard = RepetitionGuard(limit=64)
    assert not any(guard.push(t) for t in range(5000))  # no repetition
    guard = RepetitionGuard(limit=64)
    assert not any(guard.push(t) for t in [5, 6] * 8 + list(range(100, 200)))  # a short legit repeat
    long_period = list(range(30))  # a 30-token pattern needs 4 periods (120 tokens), not 64
    guard = RepetitionGuard(limit=64)
    flagged = [guard.push(t) for t in long_period * 5]
    assert flagged.index(True) == 119
    assert not any(RepetitionGuard(limit=0).push(1) for _ in range(500))


def test_the_cutter_ends_a_looping_step_as_degenerate():
    cutter = StepCutter("\n\n", ())
    cuts = [cutter.push(" 2 +", i % 2) for i in range(200)]
    first = next(c for c in cuts if c is not None)
    assert first.reason == "degenerate" and first.text.startswith(" 2 + 2 +")
    cutter = StepCutter("\n\n", ())  # the same long line again and again
    line = "Total = 3 apples + 4 pears + 5 plums + 6 figs, which we now add up again.\n"
    cuts = [cutter.push(line) for _ in range(4)]
    assert cuts[:3] == [None] * 3 and cuts[3].reason == "degenerate"


def test_stop_strings_are_capped():
    assert check_stops(("a", "", "b")) == ("a", "b")
    with pytest.raises(InvalidInputError, match="at most 16"):
        check_stops([str(i) for i in range(17)])
    with pytest.raises(InvalidInputError, match="at most 256"):
        check_stops(["x" * 300])
