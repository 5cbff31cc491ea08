"""Rollout labels (rewardspec.rollouts) on a written solution, with a scripted target."""

from __future__ import annotations

from rewardspec.eval.datasets import Example
from rewardspec.methods.base import DecodeConfig
from rewardspec.rollouts import Roller, label_solution
from rewardspec.types import Step

from fakes import TwoPlusTwoTarget


def record(*texts: str) -> list[Step]:
    """A draft's written solution: its steps of 4 tokens each."""
    return [Step(t, "draft", None, 4) for t in texts]


def roller(target: TwoPlusTwoTarget) -> Roller:
    return Roller(target, DecodeConfig(max_tokens=64), Example("0", "What is 2 + 2?", "4", "gsm8k"), "gsm8k")


def test_a_wrong_step_after_a_solvable_prefix_is_harmful_and_later_steps_are_not():
    target = TwoPlusTwoTarget()
    labels = label_solution(roller(target), record("Add 2 and 2.\n\n", "2+2=5.\n\n", "\n\n", "Hence 5.\n\n",
                                                   "So \\boxed{5}"), 64)
    assert [lab["step"] for lab in labels] == [0, 1, 3, 4]  # the blank step has no label
    assert [lab["good"] for lab in labels] == [True, False, False, False]
    assert [lab["solvable_before"] for lab in labels] == [True, True, False, False]
    assert [lab["harmful"] for lab in labels] == [False, True, False, False]
    assert [lab["rollout_answer"] for lab in labels] == ["4", "5", "5", "5"]
    assert labels[-1]["rollout_tokens"] == 0  # the solution's last step is graded as written


def test_rollouts_are_shared_between_steps_and_keep_to_the_solution_budget():
    target = TwoPlusTwoTarget()
    roll = roller(target)
    label_solution(roll, record("Add 2 and 2.\n\n", "2+2=5.\n\n", "So \\boxed{5}"), 64)
    # One rollout from each prefix, never two: step 1's "before" is step 0's "after". From "" the
    # target writes 3 steps, from step 0 two, from step 1 one (it repeats the 5); the last step ends.
    assert len(target.calls) == 3 + 2 + 1
    assert set(roll.outcomes) == {"", "Add 2 and 2.\n\n", "Add 2 and 2.\n\n2+2=5.\n\n",
                                  "Add 2 and 2.\n\n2+2=5.\n\nSo \\boxed{5}"}
    # The rollout after step 0 has 64 - 4 tokens; the one from the empty prefix all 64.
    assert ("Add 2 and 2.\n\n", 60) in target.calls and ("", 64) in target.calls
    assert roll.rollout_tokens == sum(3 for _ in target.calls)


def test_a_solution_right_from_the_start_has_only_good_steps():
    labels = label_solution(roller(TwoPlusTwoTarget()), record("Add 2 and 2.\n\n", "2+2=4.\n\n", "So \\boxed{4}"), 64)
    assert all(lab["good"] and not lab["harmful"] for lab in labels)
