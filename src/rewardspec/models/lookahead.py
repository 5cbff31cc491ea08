"""Where the in-process backends get tokens to check in one batched pass: proposals.

A proposal is a guess of the next few tokens. The model evaluates the token it just chose
and the guess in one forward pass, which yields its logits after every guessed token; it
then goes on choosing tokens exactly as it would have (same logits, same random draw) and
takes the next row for free for as long as its choice equals the guess
(:func:`rewardspec.models.stepping.write_step`). Where the two part, the guessed tail is
dropped from the KV cache. So a proposal changes how fast a step is written, never what is
written, at any temperature and whatever distribution the guess came from.

That last point matters for RSD: its proposals are draft steps the reward *rejected*, so
they are not samples of the draft's distribution, and the speculative-sampling rule
min(1, p/q) with the draft's q would bias the target towards them. Replaying the target's
own draw needs no q, and works across tokenizers: the guess is the rejected step's *text*,
tokenized by the model that checks it.

Two sources, tried in this order:

* ``rewrite``: the rejected draft step. While the target's tokens equal its prefix, its next
  tokens are offered; after the target parts from it (the one wrong number), the tail of
  what the target wrote is looked up in it, so the two realign on the rest of the sentence.
* ``ngram`` (prompt lookup): the tail of the context (question, earlier steps, this step)
  looked up in itself; reasoning copies numbers and phrases from the question.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

MAX_NGRAM = 3
"""Longest tail looked up; shorter tails are tried down to a shape's ``min_match``."""


@dataclass(frozen=True)
class Shape:
    """How much to guess at once, and how sure a lookup must be, for one kind of device.

    A pass over k tokens costs about one decode where decoding is memory-bound (a GPU at small
    batch), and grows with k where it is compute-bound (a few CPU cores; ``benchmarks/lookahead.py``
    measures the curve, docs/results/lookahead-*.md has it). A guess pays when the tokens it saves
    outweigh the extra cost of its pass, so a CPU checks short guesses from long matches only, and
    an accelerator checks long ones from any.
    The shape is fixed per model load, never tuned on timings, so that a config still gives
    the same passes, and so the same trace, on every run."""

    chunk: int
    """Most tokens of a rejected step checked in one pass."""
    min_match: int
    """Shortest tail that counts as a lookup match (realigning on a rejected step, prompt lookup)."""


CPU_SHAPE = Shape(chunk=4, min_match=3)
ACCELERATOR_SHAPE = Shape(chunk=16, min_match=1)


def shape_for(on_accelerator: bool) -> Shape:
    return ACCELERATOR_SHAPE if on_accelerator else CPU_SHAPE


def continuation(corpus: np.ndarray, tail: np.ndarray, length: int, *,
                 max_n: int = MAX_NGRAM, min_n: int = 1) -> list[int]:
    """The ``length`` tokens that follow the latest earlier occurrence of the longest suffix of
    ``tail`` (``max_n`` tokens down to ``min_n``) in ``corpus``; [] when none occurs.

    An occurrence must leave at least one token after it, so a corpus that ends with ``tail``
    itself does not match its own end."""
    for n in range(min(max_n, len(tail)), min_n - 1, -1):
        if len(corpus) <= n:
            continue
        windows = sliding_window_view(corpus[:-1], n)
        hits = np.flatnonzero((windows == tail[-n:]).all(axis=1))
        if hits.size:
            start = int(hits[-1]) + n
            return corpus[start : start + length].tolist()
    return []


@dataclass
class Proposer:
    """Guesses for one step's writing: a rejected step to reuse, prompt lookup, or both."""

    rewrite: Sequence[int] = ()
    """The rejected draft step, in the checking model's tokens."""
    context: Sequence[int] = ()
    """The prompt the step is written after (question and earlier steps), for prompt lookup."""
    lookup: int = 0
    """Tokens per prompt-lookup guess; 0 turns prompt lookup off."""
    shape: Shape = ACCELERATOR_SHAPE
    _rewrite: np.ndarray = field(init=False, repr=False)
    _context: np.ndarray = field(init=False, repr=False)
    _aligned: bool = field(default=True, init=False, repr=False)

    def __post_init__(self) -> None:
        self._rewrite = np.asarray(self.rewrite, dtype=np.int64)
        self._context = np.asarray(self.context, dtype=np.int64)

    @property
    def active(self) -> bool:
        return bool(len(self._rewrite)) or self.lookup > 0

    def propose(self, written: Sequence[int]) -> tuple[list[int], str]:
        """The next tokens to check after ``written`` (this step's tokens so far) and where
        they come from ("rewrite" or "ngram"); ([], "") when there is no guess."""
        if len(self._rewrite):
            guess = self._from_rewrite(written)
            if guess:
                return guess, "rewrite"
        if self.lookup > 0 and written:
            corpus = np.concatenate([self._context, np.asarray(written, dtype=np.int64)])
            guess = continuation(corpus, corpus, self.lookup, min_n=self.shape.min_match)
            if guess:
                return guess, "ngram"
        return [], ""

    def _from_rewrite(self, written: Sequence[int]) -> list[int]:
        n = len(written)
        if self._aligned:
            if n <= len(self._rewrite) and self._rewrite[:n].tolist() == list(written):
                return self._rewrite[n : n + self.shape.chunk].tolist()
            self._aligned = False  # parted: from here on, realign by lookup
        if not written:
            return []
        return continuation(self._rewrite, np.asarray(written, dtype=np.int64), self.shape.chunk,
                            min_n=self.shape.min_match)
