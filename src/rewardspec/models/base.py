"""The LanguageModel protocol: what a decoding method may ask of an engine.

Models exchange *text*, never token ids, so a draft, a target and a reward
model of different families mix freely. A request is a chat (``messages``)
plus the response written so far (``response_prefix``); each backend applies
its own chat template, owns its tokenizer and reuses its KV cache for the
common prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from rewardspec.steps import DEFAULT_REPETITION_LIMIT, DEFAULT_SEPARATOR
from rewardspec.types import Generation

Message = dict[str, str]


@dataclass(frozen=True)
class SamplingParams:
    """How to pick tokens. ``temperature == 0`` means greedy."""

    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    """Sample among the k most likely tokens only; 0: all."""
    min_p: float = 0.0
    """Drop tokens less likely than ``min_p`` times the most likely one; 0: none."""
    repetition_penalty: float = 1.0
    """Logits of tokens already in the prompt or the response divided by this where positive and
    multiplied where negative (transformers' and vLLM's rule); 1: off."""
    seed: int = 0
    separator: str = DEFAULT_SEPARATOR
    stop: tuple[str, ...] = ()
    repetition_limit: int = DEFAULT_REPETITION_LIMIT
    """Tokens of repetition that end a step as "degenerate" (see :mod:`rewardspec.steps`); 0: off."""
    proposal: str = ""
    """Text the step is likely to start with (RSD's rejected draft step), which a backend may
    check in batched passes and keep where it agrees; never changes what is written
    (:mod:`rewardspec.models.lookahead`). A backend that cannot check it writes from scratch."""
    prompt_lookup: int = 0
    """Tokens per n-gram guess looked up in the context and checked the same way; 0: off."""


@dataclass
class ContinuationScore:
    """Per-token log-probabilities of a given continuation, and what it cost."""

    token_logprobs: list[float]
    prompt_tokens: int


@runtime_checkable
class LanguageModel(Protocol):
    name: str
    params: int
    """Parameter count, for FLOPs accounting (2 x params per token)."""

    def generate_step(
        self, messages: list[Message], response_prefix: str, sampling: SamplingParams
    ) -> Generation:
        """Write the next step: text up to the separator, end of answer or budget."""
        ...

    def score_continuation(
        self, messages: list[Message], response_prefix: str, continuation: str
    ) -> ContinuationScore:
        """Log-probabilities of ``continuation``'s tokens after the prefix."""
        ...
