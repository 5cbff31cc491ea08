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
import time
from pathlib import Path

import numpy as np

from rewardspec.errors import MissingPackageError
from rewardspec.models.base import ContinuationScore, Message, SamplingParams
from rewardspec.models.lookahead import Proposer, shape_for
from rewardspec.models.stepping import ChatTokens, check_room, write_step
from rewardspec.prompts import plain_prompt
from rewardspec.detokenize import ByteDetokenizer
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


def chat_formatter(llm):
    """The GGUF's own chat template as a formatter (None when the file has none)."""
    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return None
    _, chat_format = _import_llama()
    vocab = llm._model
    return chat_format.Jinja2ChatFormatter(
        template=template,
        eos_token=vocab.token_get_text(vocab.token_eos()),
        bos_token=vocab.token_get_text(vocab.token_bos()),
        add_generation_prompt=True,
    )


def sync_context(llm, tokens) -> int:
    """Make a llama.cpp context hold ``tokens`` with fresh logits for the last one.

    Returns how many prompt tokens were actually evaluated: the longest
    prefix already in the KV cache is kept.
    """
    cached = llm.input_ids[: llm.n_tokens]
    limit = min(len(cached), len(tokens))
    common = 0
    if limit:
        diff = np.nonzero(cached[:limit] != np.asarray(tokens[:limit]))[0]
        common = int(diff[0]) if diff.size else limit
    if common == len(tokens):
        common -= 1  # re-evaluate the last token to get its logits back
    llm.n_tokens = common
    llm.eval(list(tokens[common:]))
    return len(tokens) - common


class _LlamaDecoder:
    """The :class:`~rewardspec.models.stepping.Decoder` of one llama.cpp context."""

    def __init__(self, model: LlamaCppModel) -> None:
        self.model, self.llm = model, model.llm

    def logits(self) -> np.ndarray:
        return self.model._last_logits()

    def feed(self, tokens, rows: bool = False) -> list[np.ndarray] | None:
        if not rows:
            self.llm.eval(list(tokens))
            return None
        return eval_rows(self.llm, list(tokens), self.model.n_vocab)

    def drop(self, n: int) -> None:
        self.llm.n_tokens -= n  # the next pass removes their keys and values first


def eval_rows(llm, tokens: list[int], n_vocab: int) -> list[np.ndarray]:
    """Run ``tokens`` after the context's ``n_tokens`` in passes of ``n_batch``, keeping the
    logits after every one of them (copies: the next pass overwrites llama.cpp's buffer)."""
    rows: list[np.ndarray] = []
    for i in range(0, len(tokens), llm.n_batch):
        chunk = tokens[i : i + llm.n_batch]
        n_past = llm.n_tokens
        llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
        llm._batch.set_batch(batch=chunk, n_past=n_past, logits_all=True)
        llm._ctx.decode(llm._batch)
        llm.input_ids[n_past : n_past + len(chunk)] = chunk
        llm.n_tokens += len(chunk)
        rows.extend(np.ctypeslib.as_array(llm._ctx.get_logits_ith(j), shape=(n_vocab,)).copy()
                    for j in range(len(chunk)))
    return rows


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
        llama_cpp, _ = _import_llama()
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
        self.lookahead_shape = shape_for(n_gpu_layers != 0)
        self.n_ctx = n_ctx
        self.n_vocab = self.llm.n_vocab()
        self._vocab = self.llm._model.vocab
        self._lock = threading.Lock()
        self._formatter = chat_formatter(self.llm)
        self._tokens = ChatTokens(self._render, self._encode)

    # -- tokens -----------------------------------------------------------
    def _render(self, messages: list[Message]) -> list[int]:
        if self._formatter is not None:
            res = self._formatter(messages=messages)
            return self.llm.tokenize(res.prompt.encode("utf-8"), add_bos=not res.added_special, special=True)
        return self.llm.tokenize(plain_prompt(messages).encode("utf-8"), add_bos=True)

    def _encode(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _sync(self, tokens: list[int]) -> int:
        return sync_context(self.llm, tokens)

    def _last_logits(self) -> np.ndarray:
        """A view of llama.cpp's float32 logits, valid until the next decode (no copy)."""
        ptr = self.llm._ctx.get_logits_ith(-1)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def _is_eog(self, token: int) -> bool:
        return bool(self._llama_cpp.llama_vocab_is_eog(self._vocab, token))

    def _check_room(self, n_prompt: int, n_new: int) -> None:
        check_room(self.name, self.n_ctx, n_prompt, n_new)

    # -- LanguageModel ----------------------------------------------------
    def generate_step(
        self, messages: list[Message], response_prefix: str, sampling: SamplingParams
    ) -> Generation:
        if sampling.max_tokens <= 0:
            return Generation("", 0, 0, "length", [])
        with self._lock:
            tokens = self._tokens(messages, response_prefix)
            self._check_room(len(tokens), sampling.max_tokens)
            started = time.perf_counter()
            processed = self._sync(tokens)
            prefill = time.perf_counter() - started
            proposer = Proposer(self._encode(sampling.proposal) if sampling.proposal else (), tokens,
                                sampling.prompt_lookup, self.lookahead_shape)
            gen = write_step(sampling, _LlamaDecoder(self), self._is_eog, ByteDetokenizer(self._token_bytes),
                             processed, proposer, tokens)
            gen.prefill_seconds = prefill
            return gen

    def _token_bytes(self, token: int) -> bytes:
        return self.llm.detokenize([token])

    def forget_cache(self) -> None:
        """Drop the KV cache, so that a comparison starts from the same state.

        Logits depend slightly on how a prefix was split into batches (a 135M model's greedy
        choice can flip on that), so two runs are only token-identical from equal caches."""
        with self._lock:
            self.llm.n_tokens = 0

    def hidden_state(self, messages: list[Message], response_prefix: str) -> tuple[np.ndarray, int]:
        """The final hidden state (after the last norm) at the prefix's last token, and the
        tokens evaluated. The cached prefix is kept, so after the model wrote the step itself
        this evaluates one token: a value head on the draft costs next to nothing."""
        with self._lock:
            tokens = self._tokens(messages, response_prefix)
            self._check_room(len(tokens), 0)
            llama_cpp, ctx = self._llama_cpp, self.llm._ctx.ctx
            processed = sync_context(self.llm, tokens[:-1]) if len(tokens) > 1 else 0
            if len(tokens) <= 1:
                self.llm.n_tokens = 0
            llama_cpp.llama_set_embeddings(ctx, True)
            try:
                self.llm.eval([tokens[-1]])
                ptr = llama_cpp.llama_get_embeddings_ith(ctx, -1)
                if not ptr:
                    raise RuntimeError(f"llama.cpp returned no hidden state for '{self.name}'")
                hidden = np.ctypeslib.as_array(ptr, shape=(self.llm.n_embd(),)).copy()
            finally:
                llama_cpp.llama_set_embeddings(ctx, False)
            return hidden, processed + 1

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
            rows = [self._last_logits().copy(), *eval_rows(self.llm, cont[:-1], self.n_vocab)]
            logprobs = []
            for row, token in zip(rows, cont):
                shifted = np.subtract(row, row.max(), dtype=np.float32)
                logprobs.append(float(shifted[token]) - float(np.log(np.exp(shifted).sum(dtype=np.float64))))
            return ContinuationScore(logprobs, processed)
