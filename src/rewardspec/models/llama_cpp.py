"""LanguageModel on llama.cpp (GGUF, CPU or GPU) through llama-cpp-python.

We drive the token loop ourselves instead of calling ``create_completion``:
a step must end on *decoded* text ("\\n\\n" is often merged into ".\\n\\n"), we
need each sampled token's log-probability (the likelihood reward reads it for
free) and an exact count of prompt tokens processed after KV-cache reuse.
Sampling uses a NumPy generator seeded per call, so a request's output does
not depend on what else the model served before it.

One llama.cpp context holds one sequence; calls are serialised with a lock.
Between calls of the same request the KV cache keeps the common prefix
(question and accepted steps), so each step costs only its new tokens.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from rewardspec.errors import InvalidInputError, MissingPackageError
from rewardspec.models.base import ContinuationScore, Message, SamplingParams
from rewardspec.prompts import plain_prompt
from rewardspec.detokenize import ByteDetokenizer
from rewardspec.steps import StepCutter
from rewardspec.types import Generation


def _import_llama():
    try:
        import llama_cpp
        from llama_cpp import llama_chat_format
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingPackageError(
            "the llama.cpp backend needs llama-cpp-python; install it with: "
            "pip install llama-cpp-python"
        ) from exc
    return llama_cpp, llama_chat_format


def usable_cpus() -> int:
    """Cores this process may run on (a container's quota, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class LlamaCppModel:
    """A GGUF model served in-process by llama.cpp."""

    def __init__(
        self,
        path: str | Path,
        name: str | None = None,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_batch: int = 512,
        n_gpu_layers: int = 0,
    ) -> None:
        llama_cpp, chat_format = _import_llama()
        self.path = Path(path)
        self.name = name or self.path.stem
        self._llama_cpp = llama_cpp
        self.llm = llama_cpp.Llama(
            model_path=str(self.path),
            n_ctx=n_ctx,
            n_batch=n_batch,
            # Prompt evaluation has its own thread count; unset, llama.cpp uses
            # every core of the host, which collapses under a CPU quota.
            n_threads=n_threads or usable_cpus(),
            n_threads_batch=n_threads or usable_cpus(),
            n_gpu_layers=n_gpu_layers,
            logits_all=False,
            verbose=False,
        )
        self.params = int(self.llm._model.n_params())
        self.n_ctx = n_ctx
        self.n_vocab = self.llm.n_vocab()
        self._vocab = self.llm._model.vocab
        self._lock = threading.Lock()
        template = self.llm.metadata.get("tokenizer.chat_template")
        self._formatter = None
        if template:
            vocab = self.llm._model
            self._formatter = chat_format.Jinja2ChatFormatter(
                template=template,
                eos_token=vocab.token_get_text(vocab.token_eos()),
                bos_token=vocab.token_get_text(vocab.token_bos()),
                add_generation_prompt=True,
            )
        self._prompt_cache: dict[tuple[tuple[str, str], ...], list[int]] = {}

    # -- tokens -----------------------------------------------------------
    def _chat_tokens(self, messages: list[Message]) -> list[int]:
        key = tuple((m["role"], m["content"]) for m in messages)
        cached = self._prompt_cache.get(key)
        if cached is None:
            if self._formatter is not None:
                res = self._formatter(messages=messages)
                cached = self.llm.tokenize(
                    res.prompt.encode("utf-8"), add_bos=not res.added_special, special=True
                )
            else:
                cached = self.llm.tokenize(plain_prompt(messages).encode("utf-8"), add_bos=True)
            if len(self._prompt_cache) > 256:
                self._prompt_cache.clear()
            self._prompt_cache[key] = cached
        return cached

    def _tokens(self, messages: list[Message], response_prefix: str) -> list[int]:
        tokens = list(self._chat_tokens(messages))
        if response_prefix:
            tokens += self.llm.tokenize(
                response_prefix.encode("utf-8"), add_bos=False, special=False
            )
        return tokens

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _sync(self, tokens: list[int]) -> int:
        """Make the context hold ``tokens`` with fresh logits for the last one.

        Returns how many prompt tokens were actually evaluated: the longest
        prefix already in the KV cache is kept.
        """
        llm = self.llm
        cached = llm.input_ids[: llm.n_tokens]
        limit = min(len(cached), len(tokens))
        common = 0
        if limit:
            diff = np.nonzero(cached[:limit] != np.asarray(tokens[:limit]))[0]
            common = int(diff[0]) if diff.size else limit
        if common == len(tokens):
            common -= 1  # re-evaluate the last token to get its logits back
        llm.n_tokens = common
        llm.eval(tokens[common:])
        return len(tokens) - common

    def _last_logits(self) -> np.ndarray:
        ptr = self.llm._ctx.get_logits_ith(-1)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).astype(np.float64)

    def _is_eog(self, token: int) -> bool:
        return bool(self._llama_cpp.llama_vocab_is_eog(self._vocab, token))

    def _check_room(self, n_prompt: int, n_new: int) -> None:
        if n_prompt + n_new > self.n_ctx:
            raise InvalidInputError(
                f"{self.name}: prompt of {n_prompt} tokens plus {n_new} new tokens exceeds "
                f"the context window of {self.n_ctx}; shorten the question or lower max_tokens"
            )

    # -- LanguageModel ----------------------------------------------------
    def generate_step(
        self, messages: list[Message], response_prefix: str, sampling: SamplingParams
    ) -> Generation:
        if sampling.max_tokens <= 0:
            return Generation("", 0, 0, "length", [])
        rng = np.random.default_rng(sampling.seed)
        with self._lock:
            tokens = self._tokens(messages, response_prefix)
            self._check_room(len(tokens), sampling.max_tokens)
            processed = self._sync(tokens)
            out: list[int] = []
            logprobs: list[float] = []
            detok = ByteDetokenizer(self._token_bytes)
            cutter = StepCutter(sampling.separator, sampling.stop, sampling.repetition_limit)
            text, finish = None, "length"
            while len(out) < sampling.max_tokens:
                logits = self._last_logits()
                shifted = logits - logits.max()
                log_z = np.log(np.exp(shifted).sum())
                token = _sample(shifted, sampling.temperature, sampling.top_p, rng)
                logprobs.append(float(shifted[token] - log_z))
                out.append(token)
                if self._is_eog(token):
                    finish = "eos"
                    break
                cut = cutter.push(detok.push(token), token)
                if cut is not None:
                    text, finish = cut.text, cut.reason
                    break
                if len(out) < sampling.max_tokens:
                    self.llm.eval([token])
            if text is None:
                text = cutter.text + detok.flush()
            return Generation(
                text=text,
                generated_tokens=len(out),
                prompt_tokens=processed,
                finish_reason=finish,  # type: ignore[arg-type]
                token_logprobs=logprobs,
            )

    def _token_bytes(self, token: int) -> bytes:
        return self.llm.detokenize([token])

    def score_continuation(
        self, messages: list[Message], response_prefix: str, continuation: str
    ) -> ContinuationScore:
        with self._lock:
            context = self._tokens(messages, response_prefix)
            cont = self.llm.tokenize(continuation.encode("utf-8"), add_bos=False, special=False)
            self._check_room(len(context), len(cont))
            processed = self._sync(context)
            if not cont:
                return ContinuationScore([], processed)
            rows = [self._last_logits()]
            llm = self.llm
            # Evaluate the continuation with logits at every position, n_batch at a time.
            for i in range(0, len(cont) - 1, llm.n_batch):
                chunk = cont[i : min(len(cont) - 1, i + llm.n_batch)]
                n_past = llm.n_tokens
                llm._batch.set_batch(batch=chunk, n_past=n_past, logits_all=True)
                llm._ctx.decode(llm._batch)
                llm.input_ids[n_past : n_past + len(chunk)] = chunk
                llm.n_tokens += len(chunk)
                for j in range(len(chunk)):
                    ptr = llm._ctx.get_logits_ith(j)
                    rows.append(np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).astype(np.float64))
            logprobs = []
            for row, token in zip(rows, cont):
                shifted = row - row.max()
                logprobs.append(float(shifted[token] - np.log(np.exp(shifted).sum())))
            return ContinuationScore(logprobs, processed)


def _sample(shifted_logits: np.ndarray, temperature: float, top_p: float, rng) -> int:
    """Greedy at temperature 0, else temperature + nucleus sampling."""
    if temperature <= 0:
        return int(np.argmax(shifted_logits))
    probs = np.exp(shifted_logits / temperature)
    probs /= probs.sum()
    if top_p < 1.0:
        order = np.argsort(-probs)
        cum = np.cumsum(probs[order])
        keep = order[: int(np.searchsorted(cum, top_p)) + 1]
        mask = np.zeros_like(probs)
        mask[keep] = probs[keep]
        probs = mask / mask.sum()
    return int(rng.choice(len(probs), p=probs))
