"""LanguageModel on Hugging Face transformers (CPU or CUDA, any dtype).

Same semantics as the llama.cpp backend:

* a step ends on *decoded* text, not on a token id, and the token loop,
  the sampler (a NumPy generator seeded from ``SamplingParams.seed`` on every
  call) and the context check are the ones in :mod:`rewardspec.models.stepping`,
  so a request's output does not depend on what the model served before it;
* the KV cache of a request is kept between its calls (one slot per request,
  keyed by its chat, a few slots in LRU order) and only the tokens after the
  longest common prefix are run; ``prompt_tokens`` counts the tokens actually
  processed.

:meth:`TransformersModel.generate_steps` runs several requests as one padded
batch (throughput on a GPU); it prefills each prompt in full instead of
reusing cached prefixes, and counts those tokens.

Where models come from, devices, dtypes and the prefix cache are in
:mod:`rewardspec.models.hf_common`, shared with the reward models.

torch and transformers are imported on first use only: ``import rewardspec``
stays light.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from rewardspec.detokenize import WindowDetokenizer
from rewardspec.models.base import ContinuationScore, Message, SamplingParams
from rewardspec.models.hf_common import (
    CacheSlot,
    PrefixCache,
    Source,
    count_params,
    input_device,
    load_pretrained,
    load_tokenizer,
    pick_device,
    pick_dtype,
    require_hf,
    resolve_source,
)
from rewardspec.models.lookahead import Proposer, shape_for
from rewardspec.models.stepping import ChatTokens, check_room, sample_token, write_step
from rewardspec.specs import parse_spec
from rewardspec.steps import StepCutter
from rewardspec.types import Generation

torch: Any = None
transformers: Any = None


class _SlotDecoder:
    """The :class:`~rewardspec.models.stepping.Decoder` of one cache slot."""

    def __init__(self, model: TransformersModel, slot: CacheSlot, last) -> None:
        self.model, self.slot, self.last = model, slot, last

    def logits(self) -> np.ndarray:
        return _numpy(self.last)

    def feed(self, tokens, rows: bool = False) -> list[np.ndarray] | None:
        logits = self.model._run(self.slot, list(tokens), keep=len(tokens) if rows else 1)
        self.last = logits[-1]
        return [_numpy(row) for row in logits] if rows else None

    def drop(self, n: int) -> None:
        keep = self.slot.ids[: len(self.slot.ids) - n]
        if PrefixCache._crop(self.slot, len(keep)) != len(keep):  # a cache that cannot crop: rebuild
            self.model._run(self.slot, keep)


def _numpy(row) -> np.ndarray:
    return row.to("cpu", torch.float32).numpy()


def _require() -> None:
    """Bind torch and transformers here, on first use (see hf_common.require_hf)."""
    global torch, transformers
    torch, transformers = require_hf()


# -- the LanguageModel ----------------------------------------------------------

_END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>", "<end_of_turn>",
                "<|end|>", "</s>", "<eos>")


@dataclass
class StepRequest:
    """One request for :meth:`TransformersModel.generate_steps`."""

    messages: list[Message]
    response_prefix: str = ""
    sampling: SamplingParams = field(default_factory=SamplingParams)


class TransformersModel:
    """A causal LM served in-process by transformers (hub name, local dir or .gguf)."""

    def __init__(
        self,
        source: str | Source,
        name: str | None = None,
        *,
        device: str | None = "auto",
        dtype: str | None = "auto",
        n_ctx: int | None = None,
        cache_slots: int = 8,
        trust_remote_code: bool = False,
        device_map: str | None = None,
    ) -> None:
        _require()
        self.source = source if isinstance(source, Source) else resolve_source(source)
        self.name = name or self.source.display_name
        self.dtype = pick_dtype(dtype, pick_device(device))
        self.tokenizer = load_tokenizer(self.source, trust_remote_code)
        self.model = load_pretrained(
            transformers.AutoModelForCausalLM, self.source, device=pick_device(device),
            dtype=self.dtype, trust_remote_code=trust_remote_code, device_map=device_map,
        )
        self.device = input_device(self.model)
        self.lookahead_shape = shape_for(self.device.type != "cpu")
        self.params = count_params(self.model)
        limit = getattr(self.model.config, "max_position_embeddings", None) or 1 << 30
        self.n_ctx = min(n_ctx, limit) if n_ctx else limit
        self._cache = PrefixCache(cache_slots)
        self._lock = threading.Lock()
        self._eos = self._end_tokens()
        self._tokens = ChatTokens(self._render, self._encode)
        pad = self.tokenizer.pad_token_id
        self._pad = pad if pad is not None else min(self._eos) if self._eos else 0

    def _end_tokens(self) -> set[int]:
        ids: set[int] = set()
        for value in (self.tokenizer.eos_token_id,
                      getattr(self.model.generation_config, "eos_token_id", None)):
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, (list, tuple)):
                ids.update(int(v) for v in value)
        vocab = self.tokenizer.get_vocab()
        ids.update(vocab[t] for t in _END_OF_TURN if t in vocab)
        return ids

    # -- tokens -------------------------------------------------------------
    def _render(self, messages: list[Message]) -> list[int]:
        if self.tokenizer.chat_template:
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            return self.tokenizer.encode(text, add_special_tokens=False)
        from rewardspec.prompts import plain_prompt

        return self.tokenizer.encode(plain_prompt(messages), add_special_tokens=True)

    def _encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def _decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(
            tokens, skip_special_tokens=False, clean_up_tokenization_spaces=False
        )

    def _check_room(self, n_prompt: int, n_new: int) -> None:
        check_room(self.name, self.n_ctx, n_prompt, n_new)

    # -- forward passes -----------------------------------------------------
    def _run(self, slot: CacheSlot, tokens: list[int], keep: int = 1):
        """Run ``tokens`` after what ``slot`` holds; logits of the last ``keep`` positions."""
        inp = torch.tensor([tokens], dtype=torch.long, device=self.device)
        try:
            out = self.model(input_ids=inp, past_key_values=slot.past, use_cache=True,
                             logits_to_keep=keep)
        except BaseException:
            slot.past, slot.ids = None, []  # the cache may hold part of this pass: drop it
            raise
        slot.past = out.past_key_values
        slot.ids.extend(tokens)
        return out.logits[0]

    def _key(self, messages: list[Message]):
        return tuple((m["role"], m["content"]) for m in messages)

    # -- LanguageModel ------------------------------------------------------
    def generate_step(
        self, messages: list[Message], response_prefix: str, sampling: SamplingParams
    ) -> Generation:
        if sampling.max_tokens <= 0:
            return Generation("", 0, 0, "length", [])
        with self._lock, torch.inference_mode():
            tokens = self._tokens(messages, response_prefix)
            self._check_room(len(tokens), sampling.max_tokens)
            started = time.perf_counter()
            slot, common = self._cache.prepare(self._key(messages), tokens)
            decoder = _SlotDecoder(self, slot, self._run(slot, tokens[common:])[-1])
            prefill = time.perf_counter() - started  # on CUDA, kernels still queued fall into decode
            # A cache that cannot drop unkept guesses would re-run the prefix on every miss: no guesses.
            proposer = Proposer(self._encode(sampling.proposal) if sampling.proposal else (), tokens,
                                sampling.prompt_lookup, self.lookahead_shape) \
                if getattr(slot.past, "is_croppable", True) else None
            gen = write_step(sampling, decoder, self._eos.__contains__, WindowDetokenizer(self._decode),
                             len(tokens) - common, proposer, tokens)
            gen.prefill_seconds = prefill
            return gen

    def score_continuation(
        self, messages: list[Message], response_prefix: str, continuation: str
    ) -> ContinuationScore:
        with self._lock, torch.inference_mode():
            context = self._tokens(messages, response_prefix)
            cont = self.tokenizer.encode(continuation, add_special_tokens=False)
            self._check_room(len(context), len(cont))
            slot, common = self._cache.prepare(self._key(messages), context)
            processed = len(context) - common
            feed = context[common:] + cont[:-1]
            if not cont:
                self._run(slot, feed)
                return ContinuationScore([], processed)
            rows = torch.log_softmax(self._run(slot, feed, keep=len(cont)).float(), dim=-1)
            idx = torch.tensor(cont, dtype=torch.long, device=rows.device)
            logprobs = rows.gather(1, idx.unsqueeze(1)).squeeze(1).tolist()
            return ContinuationScore([float(x) for x in logprobs], processed)

    def generate_steps(self, requests: Sequence[StepRequest | tuple]) -> list[Generation]:
        """Write the next step of several requests in one padded batch.

        Each request is sampled with its own generator seeded from its own
        ``SamplingParams.seed`` and stops on its own separator, stop strings,
        end of answer or budget. Prompts are prefilled in full (no prefix
        reuse): ``prompt_tokens`` is each prompt's length.
        """
        reqs = [r if isinstance(r, StepRequest) else StepRequest(*r) for r in requests]
        results: list[Generation | None] = [
            Generation("", 0, 0, "length", []) if r.sampling.max_tokens <= 0 else None
            for r in reqs
        ]
        todo = [i for i, r in enumerate(results) if r is None]
        if len(todo) == 1:
            r = reqs[todo[0]]
            results[todo[0]] = self.generate_step(r.messages, r.response_prefix, r.sampling)
        elif todo:
            with self._lock, torch.inference_mode():
                prompts = [self._tokens(reqs[i].messages, reqs[i].response_prefix) for i in todo]
                for prompt, i in zip(prompts, todo):
                    self._check_room(len(prompt), reqs[i].sampling.max_tokens)
                for i, gen in zip(todo, self._generate_batch([reqs[i] for i in todo], prompts)):
                    results[i] = gen
        return results  # type: ignore[return-value]

    def _generate_batch(self, reqs: list[StepRequest], prompts: list[list[int]]) -> list[Generation]:
        batch, width = len(reqs), max(len(p) for p in prompts)
        ids = torch.full((batch, width), self._pad, dtype=torch.long)
        mask = torch.zeros((batch, width), dtype=torch.long)
        for i, prompt in enumerate(prompts):  # left padding: every row ends at the same column
            ids[i, width - len(prompt):] = torch.tensor(prompt, dtype=torch.long)
            mask[i, width - len(prompt):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        gens = [np.random.default_rng(r.sampling.seed) for r in reqs]
        out = self.model(
            input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
            position_ids=positions.to(self.device), use_cache=True, logits_to_keep=1,
        )
        past = out.past_key_values
        logits = out.logits[:, -1].to("cpu", torch.float64).numpy()
        next_pos = positions[:, -1] + 1
        seen: list[np.ndarray | None] = [None] * batch  # per row, for a repetition penalty
        for i, r in enumerate(reqs):
            if r.sampling.repetition_penalty != 1.0:
                seen[i] = np.zeros(logits.shape[1], dtype=bool)
                seen[i][np.asarray(prompts[i], dtype=np.int64)] = True
        tokens: list[list[int]] = [[] for _ in reqs]
        logprobs: list[list[float]] = [[] for _ in reqs]
        detoks = [WindowDetokenizer(self._decode) for _ in reqs]
        cutters = [StepCutter(r.sampling.separator, r.sampling.stop, r.sampling.repetition_limit)
                   for r in reqs]
        texts = [""] * batch
        finish: list[str | None] = [None] * batch
        while any(f is None for f in finish):
            step_tokens = torch.full((batch, 1), self._pad, dtype=torch.long)
            for i, r in enumerate(reqs):
                if finish[i] is not None:
                    continue
                s = r.sampling
                token, lp = sample_token(logits[i], s.temperature, s.top_p, gens[i], top_k=s.top_k,
                                         min_p=s.min_p, penalty=s.repetition_penalty, seen=seen[i])
                if seen[i] is not None:
                    seen[i][token] = True
                tokens[i].append(token)
                logprobs[i].append(lp)
                step_tokens[i, 0] = token
                if token in self._eos:
                    finish[i] = "eos"
                    texts[i] = cutters[i].text + detoks[i].flush()
                    continue
                cut = cutters[i].push(detoks[i].push(token), token)
                if cut is not None:
                    texts[i], finish[i] = cut.text, cut.reason
                    continue
                if len(tokens[i]) >= s.max_tokens:
                    finish[i] = "length"
                    texts[i] = cutters[i].text + detoks[i].flush()
            if all(f is not None for f in finish):
                break
            alive = torch.tensor([f is None for f in finish], dtype=torch.long).unsqueeze(1)
            mask = torch.cat([mask, alive], dim=1)
            out = self.model(
                input_ids=step_tokens.to(self.device), attention_mask=mask.to(self.device),
                position_ids=next_pos.unsqueeze(1).to(self.device), past_key_values=past,
                use_cache=True, logits_to_keep=1,
            )
            past = out.past_key_values
            logits = out.logits[:, -1].to("cpu", torch.float64).numpy()
            next_pos = next_pos + 1
        return [
            Generation(texts[i], len(tokens[i]), len(prompts[i]), finish[i],  # type: ignore[arg-type]
                       logprobs[i])
            for i in range(batch)
        ]


MODEL_OPTIONS = ("device", "dtype", "name", "cache_slots", "trust_remote_code", "device_map")


def load_transformers_model(spec: str, *, n_ctx: int | None = None) -> TransformersModel:
    """Build a model from ``SOURCE[?key=value&...]`` with the keys of ``MODEL_OPTIONS``."""
    parsed = parse_spec(spec, where=f"'transformers:{spec.strip()}'")
    options = parsed.options.check(MODEL_OPTIONS)
    source = resolve_source(parsed.body, "transformers:SOURCE")
    return TransformersModel(
        source,
        options.text("name"),
        device=options.text("device", "auto"),
        dtype=options.text("dtype", "auto"),
        n_ctx=n_ctx,
        cache_slots=options.number("cache_slots", 8, integer=True, minimum=1),
        trust_remote_code=bool(options.flag("trust_remote_code")),
        device_map=options.text("device_map"),
    )
