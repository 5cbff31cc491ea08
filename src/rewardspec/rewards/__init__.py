"""Reward models behind one protocol, built from a short spec string.

Specs: ``likelihood`` (the draft's own token probabilities, free),
``likelihood-min``, ``likelihood:MODEL`` (scored by another model, costed),
``arithmetic`` (checks every written calculation), and products such as
``arithmetic*likelihood``, ``ratio:MODEL?alpha=A`` (the rebuttal's likelihood
ratio P_M/P_m per token, rewards/ratio.py; in a product, its hybrid),
``head:PATH`` (a learned value head, rewards/value_head.py). MODEL may be
``target`` or ``draft``: the run's own. Real PRMs on transformers (docs/prms.md):
``qwen-prm:SOURCE``, ``skywork-prm:SOURCE``, ``math-shepherd:SOURCE``,
``rlhflow:SOURCE``, ``orm:SOURCE?center=0&scale=1``, SOURCE being a local
directory or a hub name. ``judge:MODEL@URL`` asks a chat model on an
OpenAI-compatible server for a 0-9 rating (rewards/judge.py), where no PRM exists.
"""

from __future__ import annotations

from collections.abc import Callable

from rewardspec.errors import InvalidInputError
from rewardspec.models.base import LanguageModel
from rewardspec.rewards.arithmetic import ArithmeticReward
from rewardspec.rewards.base import RewardModel
from rewardspec.rewards.likelihood import LikelihoodReward, ProductReward

__all__ = ["ArithmeticReward", "LikelihoodReward", "ProductReward", "RewardModel", "make_reward"]

# Chosen by measurement (benchmarks/reward_selection.py, README "Reward models"):
# free to compute, and the best separation of wrong from right draft solutions.
DEFAULT_REWARD = "arithmetic*likelihood-min"
SPECS = ("likelihood", "likelihood-min", "likelihood:MODEL", "arithmetic", "A*B",
         "ratio:MODEL?alpha=A", "head:PATH",
         "qwen-prm:SOURCE", "skywork-prm:SOURCE", "math-shepherd:SOURCE", "rlhflow:SOURCE",
         "orm:SOURCE", "judge:MODEL@URL", "vllm-prm:MODEL@URL", "vllm-orm:MODEL@URL")


def make_reward(spec: str, load: Callable[[str], LanguageModel] | None = None) -> RewardModel:
    """Build a reward model from ``spec``; ``load`` loads a model by name for ``likelihood:MODEL``."""
    spec = spec.strip()
    if "*" in spec:
        return ProductReward(*(make_reward(part, load) for part in spec.split("*")))
    if spec == "arithmetic":
        return ArithmeticReward()
    if spec in ("likelihood", "likelihood-min"):
        return LikelihoodReward(None, reduce="min" if spec.endswith("min") else "mean")
    for prefix, reduce in (("likelihood-min:", "min"), ("likelihood:", "mean")):
        if spec.startswith(prefix):
            if load is None:
                raise InvalidInputError(f"reward '{spec}' needs a model loader")
            return LikelihoodReward(load(spec[len(prefix):]), reduce=reduce)
    if spec.startswith("ratio:"):
        from rewardspec.rewards.ratio import load_ratio

        return load_ratio(spec[len("ratio:"):], load)
    if spec.startswith("head:"):
        from rewardspec.rewards.value_head import load_head_reward

        return load_head_reward(spec[len("head:"):], load)
    if spec.startswith("vllm-orm:"):
        from rewardspec.rewards.prm.vllm_pooling import load_vllm_orm

        return load_vllm_orm(spec[len("vllm-orm:"):])
    if spec.startswith("vllm-prm:"):
        from rewardspec.rewards.prm.vllm_pooling import load_vllm_prm

        return load_vllm_prm(spec[len("vllm-prm:"):])
    if spec.startswith("judge:"):
        from rewardspec.rewards.judge import load_judge

        return load_judge(spec[len("judge:"):])
    from rewardspec.rewards.prm import is_prm_spec, load_prm  # light: torch loads on build

    if is_prm_spec(spec):
        return load_prm(spec)
    raise InvalidInputError(f"unknown reward '{spec}'; expected one of: {', '.join(SPECS)}")
