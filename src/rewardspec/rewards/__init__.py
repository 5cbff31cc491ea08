"""Reward models behind one protocol, built from a short spec string.

Each kind of reward is one row of :data:`REWARDS`: its spec prefix, the
syntax that help and errors show, and its loader, named as ``module:function``
so that a reward's dependencies load only when it is used. Specs: ``likelihood``
(the draft's own token probabilities, free), ``likelihood-min``,
``likelihood:MODEL`` (scored by another model, costed), ``arithmetic`` (checks
every written calculation), and products such as ``arithmetic*likelihood``,
``ratio:MODEL?alpha=A`` (the rebuttal's likelihood ratio P_M/P_m per token,
rewards/ratio.py; in a product, its hybrid), ``head:PATH`` (a learned value
head, rewards/value_head.py). MODEL may be ``target`` or ``draft``: the run's
own. Real PRMs on transformers (docs/prms.md): ``qwen-prm:SOURCE``,
``skywork-prm:SOURCE``, ``math-shepherd:SOURCE``, ``rlhflow:SOURCE``,
``orm:SOURCE?center=0&scale=1``, SOURCE being a local directory or a hub name.
``judge:MODEL@URL`` asks a chat model on an OpenAI-compatible server for a 0-9
rating (rewards/judge.py), where no PRM exists; ``vllm-prm:`` and ``vllm-orm:``
score on vLLM servers (rewards/prm/vllm_pooling.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from rewardspec.errors import InvalidInputError
from rewardspec.models.base import LanguageModel
from rewardspec.rewards.arithmetic import ArithmeticReward
from rewardspec.rewards.base import Candidate, RewardModel, score_many
from rewardspec.rewards.likelihood import LikelihoodReward, ProductReward
from rewardspec.rewards.prm import FAMILIES
from rewardspec.specs import Spec, parse_spec, split_prefix

__all__ = ["DEFAULT_REWARD", "REWARDS", "SPECS", "ArithmeticReward", "Candidate", "LikelihoodReward",
           "ProductReward", "RewardKind", "RewardModel", "make_reward", "score_many"]

ModelLoader = Callable[[str], LanguageModel]


@dataclass(frozen=True)
class RewardKind:
    """One row of the rewards table."""

    prefix: str
    """What a spec starts with: ``PREFIX``, ``PREFIX:BODY`` or ``PREFIX?options``."""
    syntax: tuple[str, ...]
    """How its specs are written, for help and for the error on an unknown reward."""
    loader: str
    """``module:function``; the function takes the parsed :class:`~rewardspec.specs.Spec` and the
    run's model loader (for ``target``, ``draft`` or a model spec) and returns the reward."""
    urls: bool = False
    """The body is ``MODEL@URL[,URL…]``: a model on servers."""

    def load(self, spec: Spec, load: ModelLoader | None) -> RewardModel:
        module, _, function = self.loader.partition(":")
        return getattr(importlib.import_module(module), function)(spec, load)


_PRM = "rewardspec.rewards.prm:load_prm"

REWARDS: dict[str, RewardKind] = {row.prefix: row for row in (
    RewardKind("likelihood", ("likelihood", "likelihood:MODEL"), "rewardspec.rewards.likelihood:load_likelihood"),
    RewardKind("likelihood-min", ("likelihood-min", "likelihood-min:MODEL"),
               "rewardspec.rewards.likelihood:load_likelihood"),
    RewardKind("arithmetic", ("arithmetic",), "rewardspec.rewards.arithmetic:load_arithmetic"),
    RewardKind("ratio", ("ratio:MODEL?alpha=A",), "rewardspec.rewards.ratio:load_ratio"),
    RewardKind("head", ("head:PATH",), "rewardspec.rewards.value_head:load_head_reward"),
    *(RewardKind(family, (f"{family}:SOURCE",), _PRM) for family in FAMILIES),
    RewardKind("judge", ("judge:MODEL@URL",), "rewardspec.rewards.judge:load_judge", urls=True),
    RewardKind("vllm-prm", ("vllm-prm:MODEL@URL",), "rewardspec.rewards.prm.vllm_pooling:load_vllm_prm", urls=True),
    RewardKind("vllm-orm", ("vllm-orm:MODEL@URL",), "rewardspec.rewards.prm.vllm_pooling:load_vllm_orm", urls=True),
)}

# Free to compute (a calculator and the draft's own token probabilities), so it cannot cost
# what the target would spend writing the step; benchmarks/reward_selection.py compares it
# with the other rewards on the draft's own solutions (docs/rewards.md).
DEFAULT_REWARD = "arithmetic*likelihood-min"
#: Every spec syntax, for help and errors; products of any of them work too.
SPECS: tuple[str, ...] = (*(syntax for row in REWARDS.values() for syntax in row.syntax), "A*B")


def make_reward(spec: str, load: ModelLoader | None = None) -> RewardModel:
    """Build a reward model from ``spec``; ``load`` loads a model by name for ``likelihood:MODEL``."""
    spec = spec.strip()
    if "*" in spec:
        return ProductReward(*(make_reward(part, load) for part in spec.split("*")))
    prefix, _ = split_prefix(spec, REWARDS)
    row = REWARDS.get(prefix)
    if row is None:
        raise InvalidInputError(f"unknown reward '{spec}'; expected one of: {', '.join(SPECS)}")
    return row.load(parse_spec(spec, REWARDS, urls=row.urls), load)
