"""What every transformers-based reward model shares: incremental scoring.

An adapter turns (question, steps) into the exact token ids its authors'
code builds, and says which position holds the newest step's score. The ids
are cut just after that position: every model here is causal, so nothing
after it changes the score. The base class then

* keeps one KV cache per request (keyed by the question, a few in LRU
  order) and runs only the tokens after the longest common prefix with the
  last scored sequence: a request's earlier steps are not re-encoded;
* counts what was processed: ``scored_tokens`` are the newest step's tokens
  in the scorer's format (its tag, or its chat-turn tokens, included),
  ``prompt_tokens`` the other tokens that had to be run (question, template,
  earlier steps after a cache miss).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any

from rewardspec.errors import InvalidInputError
from rewardspec.models.hf_common import (
    PrefixCache,
    Source,
    common_prefix,
    input_device,
    load_pretrained,
    load_tokenizer,
    pick_device,
    pick_dtype,
    require_hf,
)
from rewardspec.types import Generation, RewardScore

torch, transformers = require_hf()


class TransformersReward(ABC):
    """Base of the PRM / ORM adapters: subclasses define ``encode`` and ``forward``."""

    family: str = ""

    def __init__(
        self,
        source: Source,
        *,
        device: str | None = "auto",
        dtype: str | None = "auto",
        cache_slots: int = 8,
        trust_remote_code: bool = False,
        name: str | None = None,
        device_map: str | None = None,
    ) -> None:
        self.source = source
        self.device = pick_device(device)
        self.dtype = pick_dtype(dtype, self.device)
        self.device_map = device_map
        self.trust_remote_code = trust_remote_code
        self.tokenizer = load_tokenizer(source, trust_remote_code)
        self.name = name or f"{self.family}:{source.display_name}"
        self.params = 0
        self._cache = PrefixCache(cache_slots)
        self._lock = threading.Lock()

    # -- what a family defines ----------------------------------------------
    @abstractmethod
    def encode(self, question: str, steps: list[str]) -> tuple[list[int], int | None]:
        """The token ids the authors' code builds, and where the last step's score is read.

        With ``steps == []`` the index is None: the ids are then the context
        alone, used to tell the newest step's tokens from the context's.
        """

    @abstractmethod
    def forward(self, input_ids, past) -> tuple[float, Any]:
        """Run ``input_ids`` (1 x n) after ``past``; the reward at the last position and the new cache."""

    # -- helpers --------------------------------------------------------------
    def load(self, auto_class, trust_remote_code: bool | None = None):
        """Load the checkpoint's model with this reward's device, dtype and device map."""
        model = load_pretrained(
            auto_class, self.source, device=self.device, dtype=self.dtype,
            trust_remote_code=self.trust_remote_code if trust_remote_code is None
            else trust_remote_code,
            device_map=self.device_map,
        )
        self.device = input_device(model)
        return model

    def single_token(self, text: str, what: str) -> int:
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if len(ids) != 1:
            raise InvalidInputError(
                f"{self.name}: the {what} {text!r} is {len(ids)} tokens in this tokenizer, "
                "expected exactly one; is this the right checkpoint for this reward family?"
            )
        return ids[0]

    @staticmethod
    def last_index(ids: list[int], token: int, what: str) -> int:
        for i in range(len(ids) - 1, -1, -1):
            if ids[i] == token:
                return i
        raise InvalidInputError(f"the {what} (token {token}) is missing from the scorer's input")

    # -- RewardModel ------------------------------------------------------------
    def score(
        self,
        question: str,
        previous_steps: list[str],
        step: str,
        generation: Generation | None = None,
    ) -> RewardScore:
        previous = list(previous_steps)
        with self._lock, torch.inference_mode():
            ids, read = self.encode(question, [*previous, step])
            assert read is not None
            ids = ids[: read + 1]
            before, before_read = self.encode(question, previous)
            if before_read is not None:
                before = before[: before_read + 1]
            step_start = common_prefix(before, ids)
            slot, common = self._cache.prepare(question, ids)
            new = torch.tensor([ids[common:]], dtype=torch.long, device=self.device)
            try:
                value, slot.past = self.forward(new, slot.past)
            except BaseException:
                slot.past, slot.ids = None, []  # the cache may hold part of this pass
                raise
            slot.ids = list(ids)
        processed = len(ids) - common
        scored = len(ids) - max(common, step_start)
        value = min(1.0, max(0.0, float(value)))
        return RewardScore(value, scored_tokens=scored, prompt_tokens=processed - scored)
