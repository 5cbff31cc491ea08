"""Sharing one model among many concurrent requests: fairly, cancellably, reproducibly.

A llama.cpp model holds one context (one KV cache) and serves one call at a
time. When many requests are in flight (``rewardspec serve``), each runs its
step loop in its own thread and the model's calls queue here:

* :class:`FairLock` hands the model out strictly first come, first served
  (``threading.Lock`` makes no such promise), so a request that has just
  finished a step goes to the back of the queue and no request starves.
* A request runs inside a :class:`RequestScope` (see :func:`request_scope`).
  A cancelled scope leaves the queue at once, and its next model call raises
  :class:`RequestCancelled` instead of running.
* :class:`ModelLock` can also give every request *its own view of the KV
  cache*. llama.cpp's logits depend slightly on how a prompt was split into
  evaluation batches (a step evaluated on top of a cached prefix differs, in
  the last bits, from the same text evaluated in one batch), and that can flip
  a greedy token. So when a different request takes the model, the lock saves
  the KV cells of the request that held it and restores the newcomer's (or
  starts it from an empty cache). Every request then evaluates exactly the
  batches it would have evaluated alone on a fresh model: its output does not
  depend on what else the server was doing. The price is a copy of the
  request's KV cells at each hand-over (in proportion to its context) and no prefix
  sharing *between* requests; within a request, prefix reuse is unchanged.
"""

from __future__ import annotations

import contextvars
import ctypes
import logging
import threading
import weakref
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

__all__ = [
    "FairLock",
    "LlamaKVSwapper",
    "ModelLock",
    "RequestCancelled",
    "RequestScope",
    "current_scope",
    "install_model_lock",
    "request_scope",
]

_POLL_SECONDS = 0.05
"""How often a queued call looks at its request's cancellation flag."""


class RequestCancelled(Exception):
    """The request this work belongs to was cancelled (e.g. its client went away)."""


class RequestScope:
    """One request's identity while its work runs: a cancellation flag and saved model state.

    Several scopes may share one ``cancelled`` event (the ``n`` choices of one
    HTTP request do), while each keeps its own KV state.
    """

    def __init__(self, name: str = "", cancelled: threading.Event | None = None) -> None:
        self.name = name
        self.cancelled = cancelled if cancelled is not None else threading.Event()
        self.closed = False
        # Per model (keyed by the model's swapper): this request's saved KV state.
        self.saved: dict[int, Any] = {}

    def cancel(self) -> None:
        self.cancelled.set()

    def check(self) -> None:
        """Raise :class:`RequestCancelled` if the request was cancelled."""
        if self.cancelled.is_set():
            raise RequestCancelled(f"request {self.name or id(self)} was cancelled")

    def close(self) -> None:
        """The request is done: drop whatever state it saved."""
        self.closed = True
        self.saved.clear()

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"RequestScope({self.name!r}, cancelled={self.cancelled.is_set()})"


_CURRENT: contextvars.ContextVar[RequestScope | None] = contextvars.ContextVar(
    "rewardspec_request_scope", default=None
)


def current_scope() -> RequestScope | None:
    """The request the calling thread works for, if any."""
    return _CURRENT.get()


@contextmanager
def request_scope(scope: RequestScope) -> Iterator[RequestScope]:
    """Run the enclosed model calls on behalf of ``scope``; closes it on exit."""
    token = _CURRENT.set(scope)
    try:
        yield scope
    finally:
        _CURRENT.reset(token)
        scope.close()


class FairLock:
    """A first-in, first-out lock; a waiter whose request is cancelled leaves the queue.

    Not re-entrant. Ownership passes directly from the releasing thread to
    the oldest waiter, so no late arrival can jump the queue.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiters: deque[threading.Event] = deque()

    @property
    def queued(self) -> int:
        """Threads waiting for the lock (not counting the holder)."""
        return len(self._waiters)

    def locked(self) -> bool:
        return self._held

    def acquire(self, scope: RequestScope | None = None) -> None:
        """Wait for our turn; raise :class:`RequestCancelled` if ``scope`` is cancelled."""
        with self._mutex:
            if not self._held and not self._waiters:
                self._held = True
                return
            turn = threading.Event()
            self._waiters.append(turn)
        timeout = _POLL_SECONDS if scope is not None else None
        while not turn.wait(timeout):
            if scope is not None and scope.cancelled.is_set():
                with self._mutex:
                    if not turn.is_set():
                        self._waiters.remove(turn)
                        scope.check()
                # The lock was handed to us just as we gave up: pass it on.
                self.release()
                scope.check()

    def release(self) -> None:
        with self._mutex:
            if not self._held:
                raise RuntimeError("release of an unlocked FairLock")
            if self._waiters:
                self._waiters.popleft().set()  # hand over; stays held
            else:
                self._held = False

    def __enter__(self) -> FairLock:
        self.acquire(current_scope())
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class LlamaKVSwapper:
    """Keeps one llama.cpp context's KV cache private to the request using it.

    Holds the saved state of the request whose cells are live in the context
    (weakly), saves them into that request's scope when another request takes
    over, and restores (or clears) the cache for the newcomer.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self._owner: weakref.ReferenceType[RequestScope] | None = None
        self._anonymous_owner = True  # the cache holds work done outside any request

    def _llm(self):
        return self.model.llm

    def switch_to(self, scope: RequestScope | None) -> None:
        """Make the context hold ``scope``'s KV cells (called with the model's lock held)."""
        owner = self._owner() if self._owner is not None else None
        if scope is None:
            if self._anonymous_owner:
                return
        elif owner is scope:
            return
        if owner is not None and not owner.closed:
            owner.saved[id(self)] = self._save()
        saved = scope.saved.pop(id(self), None) if scope is not None else None
        if saved is not None:
            self._restore(saved)
        else:
            self._clear()
        self._owner = weakref.ref(scope) if scope is not None else None
        self._anonymous_owner = scope is None

    def _clear(self) -> None:
        llm = self._llm()
        llm._ctx.kv_cache_clear()
        llm.n_tokens = 0

    def _save(self) -> tuple[Any, int, Any, int]:
        import llama_cpp

        llm = self._llm()
        ctx = llm._ctx.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        buf = (ctypes.c_uint8 * max(1, size))()
        written = llama_cpp.llama_state_seq_get_data(ctx, buf, size, 0) if size else 0
        return buf, written, llm.input_ids[: llm.n_tokens].copy(), llm.n_tokens

    def _restore(self, saved: tuple[Any, int, Any, int]) -> None:
        import llama_cpp

        buf, written, ids, n_tokens = saved
        self._clear()
        if n_tokens == 0 or written == 0:
            return
        llm = self._llm()
        if not llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, buf, written, 0):
            log.warning("could not restore a request's KV cache; it will be re-evaluated")
            self._clear()
            return
        llm.input_ids[:n_tokens] = ids
        llm.n_tokens = n_tokens


class ModelLock(FairLock):
    """The lock of one model: FIFO, cancellable, and optionally request-private KV cache."""

    def __init__(self, swapper: LlamaKVSwapper | None = None) -> None:
        super().__init__()
        self.swapper = swapper

    def __enter__(self) -> ModelLock:
        scope = current_scope()
        self.acquire(scope)
        try:
            if scope is not None:
                scope.check()
            if self.swapper is not None:
                self.swapper.switch_to(scope)
        except BaseException:
            self.release()
            raise
        return self


def install_model_lock(model: Any, *, isolate: bool = True) -> bool:
    """Give ``model`` a :class:`ModelLock` (FIFO; per-request KV cache if ``isolate``).

    Works for models that serialise their calls with a ``_lock`` attribute
    (the llama.cpp backend); the per-request KV cache needs a llama.cpp
    context (``model.llm``). Returns False, changing nothing, for any other
    backend. Call it before the model is shared between threads.
    """
    if not hasattr(model, "_lock"):
        return False
    isolate = isolate and hasattr(model, "llm")
    current = model._lock
    if isinstance(current, ModelLock):  # installed before (the model is shared): adjust it
        if isolate and current.swapper is None:
            current.swapper = LlamaKVSwapper(model)
        elif not isolate:
            current.swapper = None
        return True
    model._lock = ModelLock(LlamaKVSwapper(model) if isolate else None)
    return True
