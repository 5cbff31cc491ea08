"""What would a perfect step reward buy with this draft? A reward that asks the target's rollouts.

RSD with this oracle for its reward is a bound, not a method: it knows the gold answer, and
its rollouts are not charged as FLOPs (its ``params`` are 0). Every draft step it judges
also gets a rollout label and the free rewards' scores, so that the labels and the scores
come from exactly the steps RSD saw (see :mod:`rewardspec.analysis.step_labels`).
"""

from __future__ import annotations

from typing import Any

from rewardspec.eval.datasets import Example
from rewardspec.methods.base import DecodeConfig
from rewardspec.models.base import LanguageModel
from rewardspec.rewards.base import RewardModel
from rewardspec.rollouts import Roller
from rewardspec.types import Generation, RewardScore, Step

ORACLES = ("harmless", "good")


class RolloutOracle:
    """A reward that knows the gold answer and asks the target to roll out from each step.

    ``mode="good"`` accepts exactly the steps whose rollout succeeds (the rollout label).
    ``mode="harmless"`` (default) rejects only the steps that do harm: the target's rollout
    from the prefix alone would succeed and from the prefix and the step it fails. Once no
    target rollout can succeed from the prefix, a rewrite by the target cannot help and
    the draft's cheaper steps are kept. In a greedy world this oracle is right whenever the
    target alone is, for the fewest target steps that guarantee it.

    It also scores each step with the free rewards, so that their labels and scores come
    from exactly the steps RSD saw. ``start`` sets the problem; RSD's ``on_step`` callback
    (``decided``) keeps count of the response's tokens, which bound each rollout.
    """

    name = "oracle:rollout-target"
    params = 0

    def __init__(self, roller: LanguageModel, decode: DecodeConfig, dataset: str,
                 free: dict[str, RewardModel], mode: str = "harmless") -> None:
        if mode not in ORACLES:
            raise ValueError(f"oracle mode must be one of {', '.join(ORACLES)}; got {mode!r}")
        self.roller_model, self.decode, self.dataset, self.free, self.mode = roller, decode, dataset, free, mode
        self.roller: Roller | None = None
        self.labels: list[dict[str, Any]] = []
        self.response_tokens = 0

    def start(self, example: Example) -> None:
        """A new problem: its labels, its token count and its rollouts' cache start empty."""
        self.labels, self.response_tokens = [], 0
        self.roller = Roller(self.roller_model, self.decode, example, self.dataset)

    def decided(self, step: Step) -> None:
        """RSD's ``on_step``: the response's tokens so far bound the next rollouts."""
        self.response_tokens += step.generated_tokens

    def score(self, question: str, previous_steps: list[str], step: str,
              generation: Generation | None = None) -> RewardScore:
        assert self.roller is not None, "start(example) first"
        prefix = "".join(previous_steps)
        step_tokens = generation.generated_tokens if generation else 0
        left = self.decode.max_tokens - self.response_tokens
        after = self.roller.outcome(prefix + step, left - step_tokens,
                                    ended=generation is not None and generation.ends_answer)
        good = after.correct
        label: dict[str, Any] = {
            "step": len(previous_steps), "text": step, "good": good, "rollout_tokens": after.rollout_tokens,
            "rollout_answer": after.answer,
            "rewards": {spec: r.score(question, previous_steps, step, generation).value
                        for spec, r in self.free.items()},
        }
        accept = good
        if self.mode == "harmless" and not good:
            label["solvable_before"] = self.roller.outcome(prefix, left).correct
            accept = not label["solvable_before"]
        self.labels.append(label)
        return RewardScore(1.0 if accept else 0.0)
