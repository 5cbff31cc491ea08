"""Running many RSD requests at once: admission, worker threads, events, cancellation.

Each admitted request runs its step loop (``RSD.solve``) in a worker thread
of its own, so every request advances on its own; the models' calls meet in
their FIFO locks (:mod:`rewardspec.serve.locks`). Nothing waits for a batch.

* Admission is a counter: at most ``max_concurrent_requests`` requests hold a
  worker at once; one more is refused at once (:class:`Overloaded`, HTTP 429)
  instead of waiting in an unbounded queue.
* Each decided step becomes an event on the request's asyncio queue, which
  the HTTP handler turns into a stream chunk or collects into one response.
* Cancelling a request (its client went away) sets a flag that the request's
  next model call, its place in a model's queue, and ``on_step`` all check:
  the worker stops at the next step boundary and frees its slot.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import itertools
import logging
import math
import statistics
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from rewardspec.build import build_solver, check_prompt_lookup
from rewardspec.model_roles import Models
from rewardspec.errors import RewardspecError
from rewardspec.methods.base import DecodeConfig
from rewardspec.methods.base import Method
from rewardspec.methods.table import roles_of
from rewardspec.models.base import Message
from rewardspec.serve.locks import RequestCancelled, RequestScope, install_model_lock, request_scope
from rewardspec.serve.config import ServeConfig
from rewardspec.serve.metrics import ServeMetrics
from rewardspec.types import DecodeStats, Step, Trace

log = logging.getLogger("rewardspec.serve")

_DISCONNECT_POLL = 0.2
"""Seconds between checks that the client of a running request is still there."""


class Overloaded(Exception):
    """Every request slot is taken and the waiting line is full, or a request waited its
    ``queue_timeout`` out (HTTP 429); ``retry_after``: seconds, worked out from the line."""

    def __init__(self, retry_after: int, why: str) -> None:
        super().__init__(why)
        self.retry_after, self.why = retry_after, why


class ShuttingDown(Exception):
    """The server is stopping and takes no new work (HTTP 503)."""


class ClientGone(Exception):
    """The HTTP client disconnected; its job has been cancelled."""


@dataclass(frozen=True)
class ChoiceSpec:
    """One sequence to decode: choice ``index`` answers prompt ``prompt_index`` with ``seed``."""

    index: int
    prompt_index: int
    question: str | list[Message]
    seed: int


@dataclass
class ChoiceResult:
    index: int
    prompt_index: int
    seed: int
    trace: Trace
    prompt_tokens: int


# Events a job sends to its HTTP handler.
@dataclass
class StepEvent:
    choice: int
    step_index: int
    step: Step


@dataclass
class ChoiceEvent:
    result: ChoiceResult


@dataclass
class ErrorEvent:
    status: int
    message: str
    type: str
    code: str | None = None


@dataclass
class EndEvent:
    pass


Event = StepEvent | ChoiceEvent | ErrorEvent | EndEvent


@dataclass
class ServeStats:
    """What the server has done since it started: requests by outcome, steps streamed, and
    the decode statistics of every finished choice, added (``/health``'s ``stats``)."""

    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    rejected: int = 0
    steps: int = 0
    """Steps sent to clients."""
    decode: DecodeStats = dataclasses.field(default_factory=DecodeStats)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Job:
    """One HTTP request's work: its choices, decoded one after another in a worker thread."""

    _ids = itertools.count(1)

    def __init__(self, engine: Engine, choices: list[ChoiceSpec], method: str, delta: float,
                 decode: DecodeConfig, loop: asyncio.AbstractEventLoop) -> None:
        self.id = next(self._ids)
        self.engine = engine
        self.choices = choices
        self.method = method
        self.delta = delta
        self.decode = decode
        self.loop = loop
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.cancelled = threading.Event()
        self.finished = threading.Event()
        self._step_counts: dict[int, int] = {}
        self.started = time.monotonic()

    # -- worker thread -----------------------------------------------------
    def run(self) -> None:
        engine = self.engine
        outcome = "failed"
        try:
            for spec in self.choices:
                if self.cancelled.is_set():
                    raise RequestCancelled(f"job {self.id} was cancelled")
                scope = RequestScope(f"job{self.id}/choice{spec.index}", self.cancelled)
                solver = engine.solver(self.method, self.delta, dataclasses.replace(self.decode, seed=spec.seed))
                with request_scope(scope):
                    trace = solver.solve(spec.question, on_step=partial(self._on_step, scope, spec))
                engine._record(trace)
                result = ChoiceResult(spec.index, spec.prompt_index, spec.seed, trace,
                                      trace.request_prompt_tokens or 0)
                self._emit(ChoiceEvent(result))
            outcome = "completed"
        except RequestCancelled:
            outcome = "cancelled"
            self._emit(ErrorEvent(499, "the request was cancelled", "cancelled", "cancelled"))
        except RewardspecError as exc:
            self._emit(ErrorEvent(400, str(exc), "invalid_request_error", "invalid_request"))
        except Exception as exc:  # noqa: BLE001 - reported to the client, logged here
            log.exception("job %s failed", self.id)
            self._emit(ErrorEvent(500, f"the server failed while decoding: "
                                       f"{type(exc).__name__}: {exc}", "server_error",
                                  "internal_error"))
        finally:
            self.finished.set()
            engine._job_done(self, outcome)
            self._emit(EndEvent())

    def _on_step(self, scope: RequestScope, spec: ChoiceSpec, step: Step) -> None:
        scope.check()  # a cancelled request stops here, between steps
        self.engine.count_step()
        index = self._step_counts.get(spec.index, 0)
        self._step_counts[spec.index] = index + 1
        self._emit(StepEvent(spec.index, index, step))

    def _emit(self, event: Event) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, event)
        except RuntimeError:  # the event loop is gone (server stopped)
            self.cancelled.set()

    # -- event loop --------------------------------------------------------
    def cancel(self) -> None:
        if not self.finished.is_set():
            self.cancelled.set()

    async def events(self, is_disconnected: Callable[[], Awaitable[bool]] | None = None,
                     ) -> AsyncIterator[Event]:
        """The job's events up to (not including) its end; checks the client meanwhile.

        Raises :class:`ClientGone` (after cancelling the job) if the client disconnects.
        """
        next_check = time.monotonic() + _DISCONNECT_POLL
        while True:
            wait = max(0.0, next_check - time.monotonic())
            try:
                event = await asyncio.wait_for(self.queue.get(), timeout=wait)
            except asyncio.TimeoutError:
                event = None
            if is_disconnected is not None and time.monotonic() >= next_check:
                next_check = time.monotonic() + _DISCONNECT_POLL
                if await is_disconnected():
                    self.cancel()
                    raise ClientGone()
            if event is None:
                continue
            if isinstance(event, EndEvent):
                return
            yield event


def _install_on_reward(reward: Any) -> None:
    """FIFO, cancellable locks for reward models that serialise their calls (the PRMs)."""
    if reward is None:
        return
    for part in getattr(reward, "parts", ()):
        _install_on_reward(part)
    install_model_lock(reward, isolate=False)


class Engine:
    """The loaded models and the machinery that runs requests on them."""

    def __init__(self, config: ServeConfig, loader: Callable[[str], Any] | None = None) -> None:
        if loader is None:
            from rewardspec.models import load_model

            loader = partial(load_model, n_ctx=config.n_ctx, n_threads=config.n_threads)
        self.config = config

        def load(name: str) -> Any:
            model = loader(name)
            install_model_lock(model, isolate=config.isolate_requests)
            return model

        self._models = Models(config, loader=load)
        # Every role a served method needs, loaded now (the reward spec first: a typo there
        # should fail before seconds of model loading).
        self._models.load(roles_of(config.methods))
        self.reward = self._models.loaded("reward")
        _install_on_reward(self.reward)
        self.draft, self.target = self._models.loaded("draft"), self._models.loaded("target")
        if "rsd" in config.methods:
            self._models.router()  # a route's head and thresholds checked now, not at the first request
        check_prompt_lookup(config.decode_config(), self._models)  # at start-up, not at each request
        if "sd" in config.methods:
            # sd runs its own pair of llama.cpp contexts: build them now (a tokenizer mismatch
            # fails at start-up), behind the same cancellable FIFO lock as the models.
            sd = build_solver("sd", config, DecodeConfig(), self._models)
            install_model_lock(sd._shared, isolate=False)
        self._executor = ThreadPoolExecutor(max_workers=config.max_concurrent_requests,
                                            thread_name_prefix="rsd-request")
        self._lock = threading.Lock()
        self._jobs: weakref.WeakSet[Job] = weakref.WeakSet()
        self._waiting: collections.deque[asyncio.Future[bool]] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.job_seconds: collections.deque[float] = collections.deque(maxlen=64)
        self.active = 0
        self.closing = False
        self.stats = ServeStats()
        self.metrics = ServeMetrics(lambda: self.active, lambda: self.waiting)

    def solver(self, method: str, delta: float, decode: DecodeConfig) -> Method:
        """A fresh solver for one choice, over the shared models."""
        return build_solver(method, self.config, decode, self._models, delta=delta)

    async def submit(self, choices: list[ChoiceSpec], method: str, delta: float, decode: DecodeConfig,
                     is_disconnected: Callable[[], Awaitable[bool]] | None = None) -> Job:
        """Start a job in a free slot, or wait in line for one (first come, first served).

        Raises :class:`Overloaded` when the line is full or the wait runs past ``queue_timeout``,
        :class:`ClientGone` when the client leaves while waiting (its place goes at once), and
        :class:`ShuttingDown`. Slots are handed over in the event loop, so a slot freed by a
        finishing job and a waiter giving up never race."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        with self._lock:
            if self.closing:
                raise ShuttingDown()
            free = self.active < self.config.max_concurrent_requests and not self._waiting
            if free:
                self.active += 1
                self.metrics.queue_wait.observe(0.0)
            elif len(self._waiting) >= self.config.max_queued_requests:
                self.stats.rejected += 1
                raise Overloaded(self.retry_after(len(self._waiting) + 1),
                                 f"{self.active} requests decoding and {len(self._waiting)} waiting, the most "
                                 "this server queues (max_queued_requests)")
            else:
                slot: asyncio.Future[bool] = loop.create_future()
                self._waiting.append(slot)
        if not free:
            await self._wait_for(slot, is_disconnected)
        return self._start(choices, method, delta, decode, loop)

    async def _wait_for(self, slot: asyncio.Future[bool], is_disconnected) -> None:
        deadline = time.monotonic() + self.config.queue_timeout
        started = time.monotonic()
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    with self._lock:
                        self.stats.rejected += 1
                        behind = len(self._waiting)
                    raise Overloaded(self.retry_after(behind),
                                     f"the request waited {self.config.queue_timeout:g} s (queue_timeout) "
                                     "without a free slot")
                try:
                    await asyncio.wait_for(asyncio.shield(slot), timeout=min(left, _DISCONNECT_POLL))
                    return
                except asyncio.TimeoutError:
                    pass
                except asyncio.CancelledError:
                    if self.closing:  # the line was turned away
                        raise ShuttingDown() from None
                    raise
                if is_disconnected is not None and await is_disconnected():
                    raise ClientGone()
        except BaseException:
            with self._lock:
                if slot in self._waiting:
                    self._waiting.remove(slot)
                    slot.cancel()
                    given = False
                else:
                    given = slot.done() and not slot.cancelled()
            if given:
                self._release()  # the slot came as we left: pass it on
            raise
        finally:
            self.metrics.queue_wait.observe(time.monotonic() - started)

    def _start(self, choices, method, delta, decode, loop) -> Job:
        job = Job(self, choices, method, delta, decode, loop)
        with self._lock:
            self._jobs.add(job)
        try:
            self._executor.submit(job.run)
        except RuntimeError:  # executor shut down under us
            with self._lock:
                self.active -= 1
            raise ShuttingDown() from None
        return job

    def _release(self) -> None:
        """A slot is free: the first waiter still waiting takes it, or it is given back."""
        with self._lock:
            while self._waiting:
                slot = self._waiting.popleft()
                if not slot.done():
                    slot.set_result(True)  # the slot passes on: active stays as it is
                    return
            self.active -= 1

    def retry_after(self, position: int) -> int:
        """Seconds until ``position`` requests ahead would be through, at the recent pace."""
        pace = statistics.median(self.job_seconds) if self.job_seconds else 5.0
        return max(1, math.ceil(position / self.config.max_concurrent_requests * pace))

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def _job_done(self, job: Job, outcome: str) -> None:
        with self._lock:
            setattr(self.stats, outcome, getattr(self.stats, outcome) + 1)
            self._jobs.discard(job)
            self.job_seconds.append(time.monotonic() - job.started)
        loop = self._loop
        try:
            loop.call_soon_threadsafe(self._release)
        except RuntimeError:  # the event loop is gone: nobody waits
            with self._lock:
                self.active -= 1

    def count_step(self) -> None:
        """One more step sent to a client (as it was decided, or when its method finished)."""
        with self._lock:
            self.stats.steps += 1

    def _record(self, trace: Trace) -> None:
        with self._lock:
            self.stats.decode = self.stats.decode + trace.stats
        self.metrics.record_choice(trace)

    def models(self) -> dict[str, str | None]:
        return {"draft": getattr(self.draft, "name", None),
                "target": getattr(self.target, "name", None),
                "reward": getattr(self.reward, "name", None)}

    def queues(self) -> dict[str, int]:
        """How many calls wait for each model right now."""
        out = {}
        for role in ("draft", "target", "reward"):
            lock = getattr(getattr(self, role), "_lock", None)
            if lock is not None and hasattr(lock, "queued"):
                out[role] = lock.queued
        return out

    def shutdown(self) -> None:
        """Refuse new work, turn the waiting line away, and cancel running jobs (they stop at
        their next step)."""
        with self._lock:
            self.closing = True
            jobs = list(self._jobs)
            waiting, self._waiting = list(self._waiting), collections.deque()
        for slot in waiting:
            if not slot.done():
                slot.get_loop().call_soon_threadsafe(slot.cancel)
        for job in jobs:
            job.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
