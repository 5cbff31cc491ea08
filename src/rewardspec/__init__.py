"""rewardspec: Reward-Guided Speculative Decoding (Liao et al., ICML 2025).

    from rewardspec import RSD, load_model, make_reward
    rsd = RSD(draft=load_model("qwen2.5-coder-0.5b"), target=load_model("qwen2.5-coder-1.5b"),
              reward=make_reward("arithmetic*likelihood-min"), delta=0.7)
    trace = rsd.solve("What is 12 * 7 - 5?")
"""

from rewardspec.errors import RewardspecError
from rewardspec.methods.acceptance import BinaryRule, ClipRule, SigmoidRule, make_rule
from rewardspec.methods.base import DecodeConfig
from rewardspec.methods.rsd import RSD
from rewardspec.methods.single import SingleModel
from rewardspec.models import load_model
from rewardspec.rewards import make_reward
from rewardspec.types import DecodeStats, ModelUsage, Step, Trace

__all__ = [
    "RSD", "BinaryRule", "ClipRule", "DecodeConfig", "DecodeStats", "ModelUsage", "RewardspecError",
    "SigmoidRule", "SingleModel", "Step", "Trace", "load_model", "make_reward", "make_rule",
]
__version__ = "0.2.0"
