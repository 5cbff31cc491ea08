from rewardspec.steps import find_step_end, find_stop, split_steps


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
    from rewardspec.steps import cut_generation

    assert cut_generation("a.\n\nb", "\n\n", ()) == ("a.\n\n", "step")
    assert cut_generation("a STOP.\n\nb", "\n\n", ("STOP",)) == ("a ", "stop")
    assert cut_generation("a.\n", "\n\n", ()) is None
