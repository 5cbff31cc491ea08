"""Scripted stand-ins for models, so the loop's logic is tested without weights."""

from __future__ import annotations

from rewardspec.models.base import ContinuationScore, SamplingParams
from rewardspec.types import Generation, RewardScore


class ScriptedModel:
    """Writes the given steps in order; the last one ends the answer with EOS."""

    def __init__(self, name: str, steps: list[str], params: int, tokens_per_step: int = 10):
        self.name, self.params, self.steps = name, params, steps
        self.tokens_per_step = tokens_per_step
        self.calls: list[tuple[str, SamplingParams]] = []
        self.messages: list[list[dict]] = []

    def generate_step(self, messages, response_prefix, sampling):
        self.calls.append((response_prefix, sampling))
        self.messages.append(messages)
        # The i-th step of the response, whoever wrote the earlier ones.
        index = min(response_prefix.count("\n\n"), len(self.steps) - 1)
        last = index == len(self.steps) - 1
        tokens = min(self.tokens_per_step + last, sampling.max_tokens)
        finish = "eos" if last else "step"
        if tokens < self.tokens_per_step + last:
            finish = "length"
        return Generation(self.steps[index], tokens, 5 + len(response_prefix) // 4, finish,
                          [-0.1] * tokens)

    def score_continuation(self, messages, response_prefix, continuation):
        return ContinuationScore([-0.5] * 4, 3)


class QueueReward:
    """Returns the given rewards in order."""

    name = "queue"

    def __init__(self, values: list[float], params: int = 7, scored: int = 4):
        self.values, self.params, self.scored = list(values), params, scored
        self.seen: list[str] = []
        self.questions: list[str] = []

    def score(self, question, previous_steps, step, generation=None):
        self.seen.append(step)
        self.questions.append(question)
        return RewardScore(self.values.pop(0), scored_tokens=self.scored, prompt_tokens=2)


class SeededModel:
    """Two-step answers whose final number depends on the sampling seed."""

    def __init__(self, answers: list[str], params: int = 10):
        self.name, self.params, self.answers = "seeded", params, answers
        self.calls = 0

    def generate_step(self, messages, response_prefix, sampling):
        self.calls += 1
        if not response_prefix:
            pick = self.answers[sampling.seed % len(self.answers)]
            return Generation(f"Think {pick}.\n\n", 4, 10, "step", [-0.1] * 4)
        pick = response_prefix.split()[1].rstrip(".")  # the second step follows the first
        return Generation(f"So \\boxed{{{pick}}}", 3, 2, "eos", [-0.1] * 3)

    def score_continuation(self, messages, response_prefix, continuation):
        return ContinuationScore([-0.1], 1)


class KeywordReward:
    """1.0 for steps that mention ``good``, 0.2 otherwise."""

    name, params = "keyword", 3

    def __init__(self, good: str):
        self.good = good

    def score(self, question, previous_steps, step, generation=None):
        return RewardScore(1.0 if self.good in step else 0.2, scored_tokens=2)


class TwoPlusTwoTarget:
    """A target for rollouts on "What is 2 + 2?": solves it right in three steps unless its
    prefix already says 2+2=5, which it then repeats. ``always_wrong`` answers 5 from any prefix.
    Every call is kept as (prefix, token budget)."""

    name, params = "target", 100
    STEPS = ["Add 2 and 2.\n\n", "2+2=4.\n\n", "So \\boxed{4}"]

    def __init__(self, always_wrong: bool = False) -> None:
        self.always_wrong = always_wrong
        self.calls: list[tuple[str, int]] = []

    @property
    def budgets(self) -> list[int]:
        return [budget for _, budget in self.calls]

    def generate_step(self, messages, response_prefix, sampling):
        self.calls.append((response_prefix, sampling.max_tokens))
        if self.always_wrong or "=5" in response_prefix:
            return Generation("So \\boxed{5}", 3, 1, "eos")
        index = min(response_prefix.count("\n\n"), 2)
        return Generation(self.STEPS[index], 3, 1, "eos" if index == 2 else "step")
