"""What the in-process backends share: sampling, the token loop of one step, prompt tokens, room.

llama.cpp and transformers differ in how they run a forward pass and where
their KV cache lives; everything else about writing one step is the same,
and lives here once:

* :func:`sample_token`: greedy at temperature 0, else temperature and
  nucleus sampling from a NumPy generator seeded per call, so a request's
  output does not depend on what the model served before it;
* :func:`write_step`: the token loop, cut by :class:`~rewardspec.steps.StepCutter`, over a
  backend's :class:`Decoder`, checking proposals where it has any;
* :class:`ChatTokens`: a chat's prompt rendered and tokenized once;
* :func:`check_room`: one clear error when prompt plus budget overflow the context.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from rewardspec.errors import InvalidInputError
from rewardspec.models.base import Message, SamplingParams
from rewardspec.models.lookahead import Proposer
from rewardspec.steps import StepCutter
from rewardspec.types import Generation, Lookahead


def sample_token(logits: np.ndarray, temperature: float, top_p: float,
                 rng: np.random.Generator, *, top_k: int = 0, min_p: float = 0.0,
                 penalty: float = 1.0, seen: np.ndarray | None = None) -> tuple[int, float]:
    """The next token and its log-probability under the model's unscaled distribution
    (what the likelihood reward reads).

    Per token this is the loop's only pass over the vocabulary, so it stays in the
    engine's float32 (a float64 copy of a vocabulary of 150k entries, and its exp, would
    cost several times as much) and sums in float64. Nucleus sampling sorts only the top 64
    candidates unless they hold less than ``top_p`` of the mass, which is exact: the
    nucleus is a prefix of the sorted order. In vLLM's order: the repetition ``penalty`` on
    the tokens ``seen`` (a boolean mask over the vocabulary), then temperature, then
    ``top_k``, ``min_p`` and ``top_p``.
    """
    raw = logits
    if penalty != 1.0 and seen is not None and seen.any():
        logits = np.array(logits, dtype=np.float32)
        hit = logits[seen]
        logits[seen] = np.where(hit > 0, hit / penalty, hit * penalty)
    best = int(np.argmax(logits))
    shifted = np.subtract(logits, logits[best], dtype=np.float32)
    if raw is logits:  # no penalty: the unscaled distribution's normaliser from the same pass
        log_z = float(np.log(np.exp(shifted).sum(dtype=np.float64)))

        def logprob(token: int) -> float:
            return float(shifted[token]) - log_z
    else:
        def logprob(token: int) -> float:
            return _logprob(raw, token)
    if temperature <= 0 or top_k == 1:
        return best, logprob(best)
    probs = np.exp(shifted / np.float32(temperature), dtype=np.float64)
    if 0 < top_k < len(probs):
        probs[np.argpartition(probs, -top_k)[:-top_k]] = 0.0
    if min_p > 0:
        probs[probs < min_p * probs[best]] = 0.0  # probs[best] is exp(0) = 1 before normalising
    probs /= probs.sum()
    if top_p < 1.0:
        order = _top_first(probs, top_p)
        cum = np.cumsum(probs[order])
        keep = order[: int(np.searchsorted(cum, top_p)) + 1]
        token = int(keep[rng.choice(len(keep), p=probs[keep] / probs[keep].sum())])
    else:
        token = int(rng.choice(len(probs), p=probs))
    return token, logprob(token)


def _logprob(logits: np.ndarray, token: int) -> float:
    top = logits.max()
    return float(logits[token] - top) - float(np.log(np.exp(np.subtract(logits, top, dtype=np.float32))
                                                     .sum(dtype=np.float64)))


def _top_first(probs: np.ndarray, top_p: float, head: int = 64) -> np.ndarray:
    """Indices in descending probability, enough of them to reach ``top_p``."""
    if len(probs) > head:
        top = np.argpartition(probs, -head)[-head:]
        top = top[np.argsort(-probs[top], kind="stable")]
        if probs[top].sum() >= top_p:
            return top
    return np.argsort(-probs, kind="stable")


class Decoder(Protocol):
    """One backend's forward passes over a sequence whose KV cache it keeps."""

    def logits(self) -> np.ndarray:
        """Logits for the next token after what was fed (float32, valid until the next feed)."""
        ...

    def feed(self, tokens: Sequence[int], rows: bool = False) -> list[np.ndarray] | None:
        """Run ``tokens`` after what was fed, in one pass; with ``rows``, the logits after each."""
        ...

    def drop(self, n: int) -> None:
        """Forget the last ``n`` tokens fed (their keys and values go with them)."""
        ...


def write_step(sampling: SamplingParams, decoder: Decoder, is_end: Callable[[int], bool], detokenizer,
               prompt_tokens: int, proposer: Proposer | None = None, context: Sequence[int] = ()) -> Generation:
    """One step's token loop: sample, stop on the end token, a stop string, the separator, a loop
    or the budget, and run the model on each kept token.

    With a ``proposer``, each kept token is run together with a guess of the tokens after it
    (:mod:`rewardspec.models.lookahead`); while the sampled token equals the guess, its logits
    row is already there and no pass runs. The tokens sampled are the same either way.
    ``context`` (the prompt's tokens) is what a repetition penalty counts besides the step."""
    rng = np.random.default_rng(sampling.seed)
    cutter = StepCutter(sampling.separator, sampling.stop, sampling.repetition_limit)
    out: list[int] = []
    logprobs: list[float] = []
    text, finish = None, "length"
    look = Lookahead() if proposer is not None and proposer.active else None
    guess: list[int] = []
    rows: list[np.ndarray] = []
    source = ""
    current = decoder.logits()
    seen = None
    if sampling.repetition_penalty != 1.0:
        seen = np.zeros(len(current), dtype=bool)
        seen[np.asarray(context, dtype=np.int64)] = True
    while len(out) < sampling.max_tokens:
        token, logprob = sample_token(current, sampling.temperature, sampling.top_p, rng, top_k=sampling.top_k,
                                      min_p=sampling.min_p, penalty=sampling.repetition_penalty, seen=seen)
        if seen is not None:
            seen[token] = True
        out.append(token)
        logprobs.append(logprob)
        kept = bool(guess) and token == guess[0]
        if kept:
            guess.pop(0)
            current = rows.pop(0)
            _count(look, source, accepted=1)
        elif guess:
            decoder.drop(len(guess))
            guess, rows = [], []
        if is_end(token):
            finish = "eos"
            break
        cut = cutter.push(detokenizer.push(token), token)
        if cut is not None:
            text, finish = cut.text, cut.reason
            break
        if len(out) >= sampling.max_tokens:
            break
        if kept:
            look.passes_saved += 1  # type: ignore[union-attr]
            continue
        if look is not None:
            guess, source = proposer.propose(out)  # type: ignore[union-attr]
            guess = guess[: sampling.max_tokens - len(out)]
        if guess:
            started = time.perf_counter()
            checked = decoder.feed([token, *guess], rows=True)
            look.verify_seconds += time.perf_counter() - started  # type: ignore[union-attr]
            look.verify_passes += 1  # type: ignore[union-attr]
            _count(look, source, offered=len(guess))
            current, rows = checked[0], list(checked[1:])  # type: ignore[index]
        else:
            decoder.feed([token])
            current = decoder.logits()
    if guess:
        decoder.drop(len(guess))
    if text is None:
        text = cutter.text + detokenizer.flush()
    return Generation(text, len(out), prompt_tokens, finish, logprobs, lookahead=look,  # type: ignore[arg-type]
                      token_ids=out)


def _count(look: Lookahead | None, source: str, offered: int = 0, accepted: int = 0) -> None:
    if look is None:
        return
    if source == "rewrite":
        look.rewrite_offered += offered
        look.rewrite_accepted += accepted
    else:
        look.ngram_offered += offered
        look.ngram_accepted += accepted


class ChatTokens:
    """Prompt token ids per distinct chat, rendered by the backend's template once (bounded cache)."""

    def __init__(self, render: Callable[[list[Message]], list[int]], encode: Callable[[str], list[int]],
                 size: int = 256) -> None:
        self._render, self._encode, self._size = render, encode, size
        self._cache: dict[tuple[tuple[str, str], ...], list[int]] = {}

    def __call__(self, messages: list[Message], response_prefix: str = "") -> list[int]:
        """The chat's prompt tokens, then the response written so far."""
        key = tuple((m["role"], m["content"]) for m in messages)
        cached = self._cache.get(key)
        if cached is None:
            if len(self._cache) >= self._size:
                self._cache.clear()
            cached = self._cache[key] = self._render(messages)
        return list(cached) + (self._encode(response_prefix) if response_prefix else [])


def check_room(name: str, n_ctx: int, n_prompt: int, n_new: int) -> None:
    if n_prompt + n_new > n_ctx:
        raise InvalidInputError(
            f"{name}: prompt of {n_prompt} tokens plus {n_new} new tokens exceeds "
            f"the context window of {n_ctx}; shorten the question or lower max_tokens"
        )
