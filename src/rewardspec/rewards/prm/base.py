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

``score_many`` scores several candidates of one question in one forward pass:
the context they share runs once, then their own tokens run as one
right-padded batch (the models are causal, so padding after a row's end never
reaches its score). Their token counts are those that scoring them one after
another would report, so a batch changes speed, not the accounting; afterwards
the cache holds the last candidate, as it would then.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
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
from rewardspec.rewards.base import Candidate, candidates_of
from rewardspec.types import Generation, RewardScore

torch, transformers = require_hf()


class TransformersReward(ABC):
    """Base of the PRM / ORM adapters: subclasses define ``encode`` and ``forward``."""

    family: str = ""
    batch_pad_id: int | None = 0
    """The id that right-pads a batch; None: score candidates one at a time. Any id will do for
    a causal model read at known positions; an ORM read by its own pooling needs its pad token."""

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
    def forward(self, input_ids, past, last: list[int]) -> tuple[list[float], Any]:
        """Run the rows of ``input_ids`` (b x n, right-padded) after ``past``; the reward read at
        position ``last[i]`` of row i, and the new cache."""

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
    def at(tensor, last: list[int]):
        """Row i's entry at position ``last[i]`` of a (b x n x …) tensor."""
        rows = torch.arange(len(last), device=tensor.device)
        return tensor[rows, torch.tensor(last, device=tensor.device)]

    def causal_logits(self, input_ids, past, last: list[int]):
        """A causal LM's logits at row i's position ``last[i]`` (only those are projected onto the
        vocabulary), and the new cache."""
        keep = sorted(set(last))
        out = self.model(input_ids=input_ids, past_key_values=past, use_cache=True,
                         logits_to_keep=torch.tensor(keep, device=input_ids.device))
        return self.at(out.logits, [keep.index(p) for p in last]), out.past_key_values

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
        return self.score_many(question, [Candidate(previous_steps, step, generation)])[0]

    def score_many(self, question: str, candidates: Sequence[Candidate]) -> list[RewardScore]:
        items = candidates_of(candidates)
        if not items:
            return []
        with self._lock, torch.inference_mode():
            inputs = self._inputs(question, items)
            if len(inputs) > 1 and self._can_batch(question):
                counts = self._counts(question, inputs)
                values, _ = self._run(question, [ids for ids, _ in inputs])
            else:
                values, counts = [], []
                for ids, step_start in inputs:
                    (value,), common = self._run(question, [ids])
                    values.append(value)
                    counts.append(_counted(len(ids), common, step_start))
        return [RewardScore(min(1.0, max(0.0, float(value))), scored_tokens=scored, prompt_tokens=prompt)
                for value, (scored, prompt) in zip(values, counts)]

    # -- how a batch runs ---------------------------------------------------------
    def _inputs(self, question: str, items: list[Candidate]) -> list[tuple[list[int], int]]:
        """Each candidate's ids, cut after its score's position, and where its newest step starts."""
        contexts: dict[tuple[str, ...], list[int]] = {}
        inputs = []
        for item in items:
            previous = list(item.previous_steps)
            ids, read = self.encode(question, [*previous, item.step])
            assert read is not None
            ids = ids[: read + 1]
            if tuple(previous) not in contexts:
                before, before_read = self.encode(question, previous)
                contexts[tuple(previous)] = before if before_read is None else before[: before_read + 1]
            inputs.append((ids, common_prefix(contexts[tuple(previous)], ids)))
        return inputs

    def _can_batch(self, question: str) -> bool:
        """A batch needs a pad id and a cache it can cut back to the last candidate."""
        held = self._cache.held(question)
        return self.batch_pad_id is not None and (
            held is None or held.past is None or getattr(held.past, "is_croppable", True))

    def _counts(self, question: str, inputs: list[tuple[list[int], int]]) -> list[tuple[int, int]]:
        """(scored, prompt) tokens per candidate as one call each would count them: each reuses the
        cache up to what it shares with the candidate before it."""
        held = self._cache.held(question)
        before: list[int] = list(held.ids) if held is not None else []
        counts = []
        for ids, step_start in inputs:
            counts.append(_counted(len(ids), min(common_prefix(before, ids), len(ids) - 1), step_start))
            before = ids
        return counts

    def _run(self, question: str, sequences: list[list[int]]) -> tuple[list[float], int]:
        """Rewards of ``sequences`` (one forward pass after the cached prefix; two when a batch's
        shared context is not cached yet) and the prefix length the cache supplied."""
        slot, common = self._cache.prepare_many(question, sequences)
        past, batch = slot.past, len(sequences)
        try:
            if batch > 1:
                shared = min(min(common_prefix(sequences[0], s) for s in sequences),
                             min(len(s) for s in sequences) - 1)
                if shared > common:  # the context the candidates share runs once, not once per row
                    context = torch.tensor([sequences[0][common:shared]], dtype=torch.long, device=self.device)
                    _, past = self.forward(context, past, [shared - common - 1])
                    common = shared
                if past is not None:
                    past.batch_repeat_interleave(batch)
            rows = [s[common:] for s in sequences]
            width = max(len(row) for row in rows)
            ids = torch.tensor([row + [self.batch_pad_id or 0] * (width - len(row)) for row in rows],
                               dtype=torch.long, device=self.device)
            values, past = self.forward(ids, past, [len(row) - 1 for row in rows])
            if batch > 1:  # keep the last candidate's row, as scoring one after another would
                past.batch_select_indices(torch.tensor([batch - 1]))
                if width > len(rows[-1]):
                    past.crop(len(rows[-1]) - width)
        except BaseException:
            slot.past, slot.ids = None, []  # the cache may hold part of this pass
            raise
        slot.past, slot.ids = past, list(sequences[-1])
        return values, common


def _counted(length: int, common: int, step_start: int) -> tuple[int, int]:
    """(scored, prompt): of the ``length - common`` tokens run, those of the newest step are scored."""
    scored = length - max(common, step_start)
    return scored, length - common - scored
