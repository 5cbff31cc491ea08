"""Scripted stand-ins for models, so the loop's logic is tested without weights."""

from __future__ import annotations

import threading
from contextlib import contextmanager

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


CHAIN = "\\[ \\text{Total cost} = " + " + ".join(["2"] * 40) + " \\]\n\n"
"""A step holding a 40-term "2 + 2 + ..." chain: the old arithmetic pattern backtracked
exponentially on it."""


class ChainModel:
    """Writes the :data:`CHAIN` step, then the answer. Given a ``gate``, it waits there before
    the answer, so a request whose chain step has been judged stays in flight until it opens."""

    def __init__(self, name: str, gate: threading.Event | None = None) -> None:
        self.name, self.params, self.gate = name, 1000, gate
        self.waiting: list[str] = []  # calls that reached the gate: their chain step was judged

    def generate_step(self, messages, response_prefix, sampling):
        if not response_prefix:
            return Generation(CHAIN, 120, 30, "step", [-0.01] * 120)
        if self.gate is not None:
            from processes import HANG_S

            self.waiting.append(response_prefix)
            assert self.gate.wait(HANG_S), "the test never opened the gate"
        return Generation("So the total is \\boxed{80}.", 10, 5, "eos", [-0.01] * 10)

    def score_continuation(self, messages, response_prefix, continuation):
        return ContinuationScore([-0.01], 1)


@contextmanager
def scripted_server(gate: threading.Event | None = None, **settings):
    """`rewardspec serve`'s app under a real uvicorn server on a free loopback port, over
    :class:`ChainModel` draft and target; yields (config, base URL, the draft). Settings are
    the serve config's; the gate (if any) is opened on the way out."""
    from rewardspec.serve import create_app, parse_config
    from rewardspec.serve.scheduling import Engine

    from processes import serve_app

    models = {name: ChainModel(name, gate) for name in ("draft-model", "target-model")}
    config = parse_config({"draft": "draft-model", "target": "target-model", **settings})
    app = create_app(config, Engine(config, loader=models.__getitem__))
    try:
        with serve_app(app) as url:
            yield config, url, models["draft-model"]
    finally:
        if gate is not None:
            gate.set()
