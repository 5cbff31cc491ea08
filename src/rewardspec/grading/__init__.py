"""Final-answer extraction and grading against a gold answer.

Accuracy numbers are only as trustworthy as the grader, so the aim is to agree
with a careful human grader: ``\\frac{1}{2}``, ``0.5`` and ``1/2`` are the same
answer, ``(1,2]`` and ``(1,2)`` are not, a set is unordered and a point is not.

This package's public face is :func:`is_correct`, :func:`final_answer` and
:func:`extract_gold`; the work is split over its modules:

* ``extraction`` -- which part of a long response is the final answer
  (``\\boxed{}``, "the answer is", a multiple-choice letter, the last number),
  over ``latex`` (boxes and font commands);
* ``gold`` -- the datasets' gold answers, as the grader compares them;
* ``compare`` -- structure: lists, sets, tuples, intervals and unions are
  compared element by element, because general-purpose graders get them wrong
  (comparing lists by their first element, ignoring interval brackets,
  confusing ``1,000`` with a pair); then scalars, with ``normalize``: exact
  rational arithmetic for numbers (units, percent signs, degrees, currency and
  thousands separators taken off), and ``math-verify`` (SymPy) for everything
  symbolic;
* ``deadline`` -- SymPy under a hard time budget, in any thread.

Grading never raises and never hangs, in any thread: any failure counts as
"incorrect"; every pattern runs in time linear in its input; and
``math-verify`` runs under a wall-clock budget (:mod:`rewardspec.grading.deadline`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rewardspec.grading.compare import TIME_BUDGET_S, _equivalent, _guarded, _items
from rewardspec.grading.extraction import (
    _ANSWER_CUE,
    _after_cue,
    _choice_at_start,
    _extract_for_grading,
    extract_answer,
    extract_choice,
)
from rewardspec.grading.gold import (
    _CHOICE_LETTERS,
    _dataset_name,
    _is_multiple_choice,
    extract_gold,
    gsm8k_gold,
    strip_gold_junk,
)
from rewardspec.grading.latex import _unwrap_text, last_boxed
from rewardspec.grading.normalize import _THOUSANDS, _clean, to_number
from rewardspec.grading.options import option_named, options_in

__all__ = [
    "TIME_BUDGET_S",
    "extract_answer",
    "extract_choice",
    "extract_gold",
    "final_answer",
    "grade",
    "gsm8k_gold",
    "answers_equivalent",
    "is_correct",
    "last_boxed",
    "to_number",
]


def answers_equivalent(answer: str | None, gold: str | None, dataset: str = "math") -> bool:
    """Whether an already extracted answer matches ``gold`` (or another sample's answer, to vote).

    ``gold``'s shape decides how ``answer`` is read, as in ``is_correct``.
    """
    if answer is None or gold is None:
        return False
    return _guarded(lambda: _answers_agree(str(answer), strip_gold_junk(str(gold)), _dataset_name(dataset or "math")))


def _answers_agree(answer: str, gold: str, dataset: str) -> bool:
    """Letters for multiple choice ("(B) 12" agrees with "B"), equivalence otherwise."""
    multiple_choice = _is_multiple_choice(dataset)
    letter = _gold_choice(gold, multiple_choice) or _choice_at_start(_clean(gold), _CHOICE_LETTERS)
    if multiple_choice or _gold_choice(gold, multiple_choice=False) is not None:
        return letter is not None and _choice_at_start(_clean(answer), _CHOICE_LETTERS) == letter
    return _equivalent(answer, gold)


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def _gold_choice(gold: str, multiple_choice: bool) -> str | None:
    """The option letter ``gold`` names, if the gold is a letter (or an index for MC sets)."""
    text = _clean(gold)
    if multiple_choice and text.isdigit() and int(text) < len(_CHOICE_LETTERS):
        return _CHOICE_LETTERS[int(text)]
    match = re.fullmatch(rf"\(?([{_CHOICE_LETTERS}])\)?", _unwrap_text(text).strip())
    return match.group(1) if match else None


def _gold_is_list(gold: str) -> bool:
    return len(_items(_clean(gold))) > 1 and _THOUSANDS.fullmatch(_clean(gold)) is None


def final_answer(
    response: str, dataset: str = "math", gold: str | None = None, question: str | None = None
) -> str | None:
    """The answer ``is_correct`` grades, as a string: what samples record and majority votes on.

    Multiple-choice datasets (or a letter gold) give the option letter; with
    the ``question``, an answer that states an option's content ("Hyperbola")
    gives that option's letter. With a gold, its shape decides whether several
    boxes in the final paragraph are one list answer; without one (voting)
    they are read as a list.
    """
    if not isinstance(response, str):
        return None
    name = _dataset_name(dataset or "math")
    multiple_choice = _is_multiple_choice(name)
    gold = strip_gold_junk(str(gold)) if gold is not None else None
    letter = _gold_choice(gold, multiple_choice) if gold is not None else None
    if multiple_choice or letter is not None:
        letters = "ABCD" if multiple_choice and (letter is None or letter <= "D") else _CHOICE_LETTERS
        return _guarded_value(lambda: extract_choice(response, letters) or _choice_by_content(response, question))
    gold_is_list = gold is None or _gold_is_list(str(gold))
    return _guarded_value(lambda: _extract_for_grading(response.replace("−", "-"), name, gold_is_list))


def _choice_by_content(response: str, question: str | None) -> str | None:
    """The letter of the one listed option that the final answer states in words or maths."""
    options = options_in(question)
    if not options:
        return None
    phrase = last_boxed(response)
    if phrase is None:
        phrase = _after_cue(response, _ANSWER_CUE)
    return option_named(phrase, options, _equivalent)


def _guarded_value(extract: Callable[[], str | None]) -> str | None:
    try:
        return extract()
    except Exception:
        return None


def _grade(answer: str | None, gold: str, dataset: str) -> bool:
    multiple_choice = _is_multiple_choice(_dataset_name(dataset))
    letter = _gold_choice(gold, multiple_choice)
    if letter is not None:
        return answer == letter
    if multiple_choice:
        return False
    return answer is not None and _equivalent(answer, gold)


def is_correct(response: str, gold: str, dataset: str = "math", question: str | None = None) -> bool:
    """Whether ``response`` ends in an answer equivalent to ``gold``.

    ``dataset`` picks the conventions of that benchmark (gsm8k, math500,
    gaokao2023en, olympiadbench, amc23, aime24, mmlu_stem, gpqa); any other
    name grades as free-form maths. ``question``, when given, lets an answer
    name a multiple-choice option by its content. Never raises: failures
    grade as incorrect.
    """
    return grade(response, gold, dataset, question)[1]


def grade(response: str, gold: str, dataset: str = "math", question: str | None = None) -> tuple[str | None, bool]:
    """(the answer :func:`final_answer` reads, whether it is correct), extracting it once.

    What an evaluation records beside each sample; ``is_correct`` is its second half.
    """
    question = question if isinstance(question, str) else None
    if not isinstance(response, str) or gold is None:
        return final_answer(response, dataset, gold, question), False
    read: list[str | None] = [None]

    def extract_and_grade() -> bool:  # one time budget for both, as is_correct always had
        read[0] = final_answer(response, dataset, gold, question)
        return _grade(read[0], strip_gold_junk(str(gold)), dataset or "math")

    return read[0], _guarded(extract_and_grade)
