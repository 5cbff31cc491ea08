"""Rollout labels: does the target, continuing greedily from a prefix, reach the right answer?

This is Math-Shepherd's hard estimate with one greedy completion, made by the model that
writes the rest of the answer in RSD. It is the label a step reward should predict. An
outcome label (is the whole solution right?) blames every step of a wrong solution,
including the ones before its mistake. Two labels come from the same rollouts:

* ``good``: the rollout from the prefix and the step succeeds;
* ``harmless``: not *harmful*. A step is harmful when the rollout from the prefix alone
  succeeds and the rollout from the prefix and the step fails. Only such a step is worth a
  rewrite by the target, because after a doomed prefix a rewrite cannot help.

``train-reward --labels rollout|harmless`` trains on them. The step-level oracle benchmark
decides with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rewardspec.eval.datasets import Example
from rewardspec.grading import final_answer, is_correct
from rewardspec.methods.base import DecodeConfig, as_chat
from rewardspec.models.base import LanguageModel
from rewardspec.prompts import format_question
from rewardspec.types import Step


@dataclass(frozen=True)
class Outcome:
    correct: bool
    answer: str | None
    rollout_tokens: int


class Roller:
    """One problem's target rollouts, graded against its gold answer and cached per prefix.

    Rollouts are greedy whatever ``decode`` samples with, so a label is a property of the
    prefix and not of a seed. Consecutive steps share their rollouts: the prefix of step
    k+1 is step k's prefix plus step k.
    """

    def __init__(self, model: LanguageModel, decode: DecodeConfig, example: Example, dataset: str) -> None:
        self.model, self.decode, self.example, self.dataset = model, decode, example, dataset
        self.asked = format_question(example.question, example.choices)
        self.messages = as_chat(self.asked, decode.system_prompt)[1]
        self.outcomes: dict[str, Outcome] = {}
        self.rollout_tokens = 0

    def rollout(self, text: str, tokens_left: int) -> tuple[str, int]:
        """The model's greedy continuation of ``text`` to the answer's end: (full text, tokens it wrote)."""
        written = 0
        while tokens_left > 0:
            gen = self.model.generate_step(self.messages, text, self.decode.sampling(tokens_left, 0))
            text, tokens_left, written = text + gen.text, tokens_left - gen.generated_tokens, written + gen.generated_tokens
            if gen.ends_answer or gen.generated_tokens == 0:
                break
        return text, written

    def outcome(self, text: str, tokens_left: int, ended: bool = False) -> Outcome:
        """Whether ``text``, continued by the model (or as it is, when ``ended``), is right."""
        if text not in self.outcomes:
            full, rolled = (text, 0) if ended else self.rollout(text, tokens_left)
            self.rollout_tokens += rolled
            self.outcomes[text] = Outcome(is_correct(full, self.example.gold, self.dataset, self.asked),
                                          final_answer(full, self.dataset, self.example.gold, self.asked), rolled)
        return self.outcomes[text]


def label_solution(roller: Roller, steps: Sequence[Step], max_tokens: int) -> list[dict[str, Any]]:
    """Rollout labels for every non-empty step of one written solution (a sample record's steps).

    Each rollout gets the tokens the solution had left after that step, so a label never asks
    for a longer answer than the solution could have had. The last step is graded as written.
    """
    labels: list[dict[str, Any]] = []
    prefix, used = "", 0
    for number, step in enumerate(steps):
        before, left_before = prefix, max_tokens - used
        prefix += step.text
        used += step.generated_tokens
        if not step.text.strip():
            continue
        after = roller.outcome(prefix, max_tokens - used, ended=number == len(steps) - 1)
        solvable_before = roller.outcome(before, left_before).correct
        labels.append({"step": number, "good": after.correct, "solvable_before": solvable_before,
                       "harmful": solvable_before and not after.correct,
                       "rollout_answer": after.answer, "rollout_tokens": after.rollout_tokens})
    return labels
