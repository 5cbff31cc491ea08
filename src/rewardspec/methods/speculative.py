"""Token-level speculative decoding (the baseline RSD is compared against).

We do not write our own: llama-cpp-python's ``Llama(draft_model=...)`` runs
the propose/verify loop (the target evaluates the draft's tokens in one batch
and keeps the longest prefix it agrees with). We only supply a
``LlamaDraftModel`` that proposes ``k`` greedy tokens from a second GGUF model,
and count what each model evaluated. Draft and target must share a
tokenizer (the Qwen2.5-Coder pair does); RSD has no such restriction.

Accounting: the target's "generated" tokens are every position it evaluated
after the prompt (accepted or not: each cost a forward position); the
draft's are the tokens it proposed, and those the target rejected are
"discarded".
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardspec.errors import InvalidInputError
from rewardspec.grading import extract_answer
from rewardspec.methods.base import DecodeConfig, OnStep, as_chat, report
from rewardspec.steps import split_steps
from rewardspec.types import Step, Trace


class _GreedyDraft:
    """Proposes ``k`` greedy tokens with a second llama.cpp model, reusing its KV cache."""

    def __init__(self, llm, k: int) -> None:
        self.llm, self.k = llm, k
        self.proposed = 0
        self.prompt_tokens = 0
        self.calls = 0

    def __call__(self, input_ids, /, **kwargs):
        import llama_cpp

        from rewardspec.models.llama_cpp import sync_context

        llm = self.llm
        self.prompt_tokens += sync_context(llm, np.asarray(input_ids, dtype=np.intc).tolist())
        out: list[int] = []
        vocab = llm._model.vocab
        for _ in range(self.k):
            logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),))
            token = int(np.argmax(logits))
            out.append(token)
            if llama_cpp.llama_vocab_is_eog(vocab, token) or len(out) == self.k:
                break
            llm.eval([token])
        self.proposed += len(out)
        self.calls += 1
        return np.asarray(out, dtype=np.intc)


class _Contexts:
    """The two llama.cpp contexts of one draft/target pair, built once and shared under a lock."""

    def __init__(self, draft_path: str, target_path: str, k: int, n_ctx: int) -> None:
        import llama_cpp

        draft_llm = llama_cpp.Llama(model_path=draft_path, n_ctx=n_ctx, verbose=False)
        self.draft = _GreedyDraft(draft_llm, k)
        self.target = llama_cpp.Llama(model_path=target_path, n_ctx=n_ctx,
                                      draft_model=self.draft, logits_all=True, verbose=False)
        if draft_llm.n_vocab() != self.target.n_vocab():
            raise InvalidInputError(
                "token-level speculative decoding needs draft and target to share a tokenizer; "
                f"vocabularies differ ({draft_llm.n_vocab()} vs {self.target.n_vocab()})"
            )
        # One completion at a time; the server replaces this with its cancellable FIFO lock.
        self._lock: Any = threading.Lock()
        self.evaluated = 0
        original_eval = self.target.eval

        def counting_eval(tokens):
            self.evaluated += len(tokens)
            return original_eval(tokens)

        self.target.eval = counting_eval  # type: ignore[method-assign]


_CONTEXTS: dict[tuple[str, str, int, int], _Contexts] = {}
_CONTEXTS_LOCK = threading.Lock()


def _contexts(draft_path: str, target_path: str, k: int, n_ctx: int) -> _Contexts:
    key = (draft_path, target_path, k, n_ctx)
    with _CONTEXTS_LOCK:
        if key not in _CONTEXTS:
            _CONTEXTS[key] = _Contexts(draft_path, target_path, k, n_ctx)
        return _CONTEXTS[key]


@dataclass
class SpeculativeDecoding:
    """Greedy token-level speculative decoding through llama-cpp-python.

    Solvers of the same pair share one pair of contexts (built on first use), so a
    server can build one solver per request.
    """

    draft_path: str
    target_path: str
    draft_params: int
    target_params: int
    num_pred_tokens: int = 4
    config: DecodeConfig = field(default_factory=DecodeConfig)
    n_ctx: int = 4096
    method: str = "sd"

    @classmethod
    def over(cls, draft, target, num_pred_tokens: int, config: DecodeConfig) -> SpeculativeDecoding:
        """SD for two loaded llama.cpp models (it needs their GGUF files: it runs its own contexts)."""
        paths = [getattr(m, "path", None) for m in (draft, target)]
        if None in paths:
            raise InvalidInputError("method 'sd' runs on GGUF models (the llama.cpp backend); "
                                    "draft and target must be registry names or .gguf paths")
        return cls(str(paths[0]), str(paths[1]), draft.params, target.params, num_pred_tokens, config,
                   n_ctx=getattr(target, "n_ctx", 4096))

    def __post_init__(self) -> None:
        if self.config.temperature > 0:
            raise InvalidInputError(
                f"method 'sd' decodes greedily (llama.cpp's draft-model loop keeps the target's argmax "
                f"tokens), so temperature {self.config.temperature} cannot apply; use temperature 0 for sd")
        if self.config.repetition_penalty != 1.0:
            raise InvalidInputError(
                "method 'sd' decodes greedily in llama.cpp's draft-model loop, whose repetition penalty "
                f"differs from ours, so repetition_penalty {self.config.repetition_penalty} cannot apply; leave it at 1")
        if self.num_pred_tokens < 1:
            raise InvalidInputError(f"num_pred_tokens must be >= 1; got {self.num_pred_tokens}")
        shared = _contexts(self.draft_path, self.target_path, self.num_pred_tokens, self.n_ctx)
        self._shared = shared
        self._draft, self._target = shared.draft, shared.target

    def solve(self, question: str | list, on_step: OnStep | None = None) -> Trace:
        question, messages = as_chat(question, self.config.system_prompt)
        with self._shared._lock:
            trace = self._solve(question, messages)
        report(trace, on_step)  # the engine returns one text: report its steps once it is done
        return trace

    def _solve(self, question: str, messages) -> Trace:
        cfg = self.config
        started = time.perf_counter()
        self._target.reset()  # a fresh prompt each time: prefix reuse would hide prompt cost
        before = (self._shared.evaluated, self._draft.proposed, self._draft.prompt_tokens, self._draft.calls)
        result = self._target.create_chat_completion(
            messages=messages,  # type: ignore[arg-type]
            max_tokens=cfg.max_tokens, temperature=0.0, repeat_penalty=1.0, seed=cfg.seed,
            stop=list(cfg.stop) or None,
        )
        text = result["choices"][0]["message"]["content"] or ""
        usage = result["usage"]
        evaluated = self._shared.evaluated - before[0]
        proposed = self._draft.proposed - before[1]
        completion = usage["completion_tokens"]
        prompt = usage["prompt_tokens"]

        trace = Trace(question=question, method=self.method)
        t, d = trace.usage["target"], trace.usage["draft"]
        t.params, d.params = self.target_params, self.draft_params
        t.prompt_tokens = prompt
        t.generated_tokens = max(0, evaluated - prompt)
        t.calls = 1
        d.generated_tokens = proposed
        d.prompt_tokens = self._draft.prompt_tokens - before[2]
        d.calls = self._draft.calls - before[3]
        # Each accepted draft token saves the target one sequential step; the rest were wasted.
        d.discarded_tokens = max(0, proposed - max(0, completion - d.calls))
        trace.stats.proposed_tokens = proposed
        trace.stats.accepted_tokens = proposed - d.discarded_tokens
        trace.note_prompt(prompt)
        # The engine returns one text: cut it into steps, sized by re-tokenising,
        # with the last step absorbing the difference so the steps add up.
        pieces = split_steps(text, cfg.separator) or [""]
        sizes = [len(self._target.tokenize(p.encode(), add_bos=False)) for p in pieces[:-1]]
        sizes.append(max(0, completion - sum(sizes)))
        trace.steps = [Step(p, "target", None, n) for p, n in zip(pieces, sizes)]
        trace.finish_reason = {"stop": "eos", "length": "length"}.get(
            result["choices"][0]["finish_reason"] or "", "eos")
        trace.answer = extract_answer(text)
        trace.wall_seconds = time.perf_counter() - started
        return trace
