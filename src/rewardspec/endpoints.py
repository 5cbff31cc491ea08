"""HTTP to the servers behind one remote role, for models and rewards alike.

Pooled connections, balancing, retries and dead endpoints, plus the three
things every call does with a reply: check its status, read its JSON, read
its server-sent events. The language-model backend (models/remote.py) and the
served rewards (judge, vLLM pooling) share them, so a failure reads the same
whichever part of a run met it.

One role (a draft, a target, a judge) may sit behind several
OpenAI-compatible servers. Each request goes to the live endpoint with the
fewest requests outstanding, and every later step of the same chat goes to
the same endpoint, so its prefix stays in that server's cache. An endpoint
that fails to connect, answers 5xx or 429 is taken out for a back-off that
doubles with each failure, and comes back by itself once that has passed and
a request finds it answering. A request retries on another endpoint, with
exponential back-off and full jitter, a bounded number of times, and then
fails with one error that names the endpoint and what went wrong.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from rewardspec.errors import RewardspecError


class RemoteEngineError(RewardspecError):
    """A remote engine could not be reached, refused the request, or kept failing."""


class RemoteUnavailableError(RemoteEngineError):
    """Every try failed for reasons that may pass (no connection, 5xx, 429): worth a --resume later."""


class RetryableError(Exception):
    """A failure worth another attempt: no connection, a dropped stream, 5xx or 429."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to try again."""

    attempts: int = 4
    base_s: float = 0.25
    cap_s: float = 8.0
    down_base_s: float = 2.0
    down_cap_s: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full jitter (AWS): uniform in [0, min(cap, base * 2^attempt)]; spreads a herd of retries."""
        return rng.uniform(0.0, min(self.cap_s, self.base_s * 2**attempt))

    def down_for(self, failures: int) -> float:
        """How long an endpoint stays out after its ``failures``-th failure in a row."""
        return min(self.down_cap_s, self.down_base_s * 2 ** max(0, failures - 1))


def is_retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


@dataclass
class Endpoint:
    url: str
    client: httpx.Client
    slots: threading.BoundedSemaphore
    outstanding: int = 0
    failures: int = 0
    down_until: float = 0.0
    served: int = 0
    owned_by: str | None = None
    """What the server's model list says owns the model ("vllm", "sglang", "llamacpp" for
    llama.cpp's llama-server, "me" for llama-cpp-python's), once :meth:`EndpointPool.check` ran."""

    @property
    def llama_server(self) -> bool:
        return self.owned_by == "llamacpp"

    def alive(self, now: float) -> bool:
        return now >= self.down_until


@dataclass
class EndpointPool:
    """Several base URLs of one served model; thread-safe."""

    urls: tuple[str, ...]
    api_key: str | None = None
    timeout_s: float = 600.0
    max_in_flight: int = 16
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    seed: int = 0
    sessions_kept: int = 4096

    def __post_init__(self) -> None:
        if not self.urls:
            raise RemoteEngineError("a remote model needs at least one base URL")
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        timeout = httpx.Timeout(self.timeout_s, connect=min(10.0, self.timeout_s))
        limits = httpx.Limits(max_connections=self.max_in_flight, max_keepalive_connections=self.max_in_flight)
        self.endpoints = [
            Endpoint(url.rstrip("/"), httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout,
                                                    limits=limits),
                     threading.BoundedSemaphore(self.max_in_flight))
            for url in self.urls
        ]
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, Endpoint] = OrderedDict()
        self._rng = random.Random(self.seed)

    # -- choosing an endpoint ---------------------------------------------
    def pick(self, session: str | None, avoid: set[str] = frozenset()) -> Endpoint:
        """The session's endpoint if it is alive, else the live one with the fewest outstanding,
        reserved at once: requests still waiting for a slot count as load.

        With every endpoint out, the one that comes back soonest is tried anyway.
        Release the reservation with :meth:`release`.
        """
        with self._lock:
            chosen = self._choose(session, avoid)
            chosen.outstanding += 1
            return chosen

    def release(self, endpoint: Endpoint) -> None:
        with self._lock:
            endpoint.outstanding -= 1
            endpoint.served += 1

    def _choose(self, session: str | None, avoid: set[str]) -> Endpoint:
        now = self.clock()
        sticky = self._sessions.get(session) if session else None
        if sticky is not None and sticky.alive(now) and sticky.url not in avoid:
            self._sessions.move_to_end(session)
            return sticky
        candidates = [e for e in self.endpoints if e.alive(now) and e.url not in avoid]
        if not candidates:
            others = [e for e in self.endpoints if e.url not in avoid] or self.endpoints
            candidates = [min(others, key=lambda e: e.down_until)]
        chosen = min(candidates, key=lambda e: (e.outstanding, e.served))
        if session:
            self._sessions[session] = chosen
            self._sessions.move_to_end(session)
            while len(self._sessions) > self.sessions_kept:
                self._sessions.popitem(last=False)
        return chosen

    @contextmanager
    def _hold(self, endpoint: Endpoint) -> Iterator[None]:
        """A slot on the reserved endpoint, and the reservation's release afterwards."""
        try:
            endpoint.slots.acquire()
            try:
                yield
            finally:
                endpoint.slots.release()
        finally:
            self.release(endpoint)

    def _failed(self, endpoint: Endpoint, started: float) -> None:
        """Count one failure per down period: the 16 requests in flight when a server blips
        put it out once, not for 2^16 times the back-off."""
        with self._lock:
            if endpoint.down_until > started:
                return  # already out since this request started
            endpoint.failures += 1
            endpoint.down_until = self.clock() + self.policy.down_for(endpoint.failures)

    def _wait_for_one(self) -> None:
        """When every endpoint is out, wait (capped) for the first to come back."""
        with self._lock:
            now = self.clock()
            if any(e.alive(now) for e in self.endpoints):
                return
            soonest = min(e.down_until for e in self.endpoints)
        self.sleep(min(self.policy.cap_s, max(0.0, soonest - now)))

    def _succeeded(self, endpoint: Endpoint) -> None:
        with self._lock:
            endpoint.failures, endpoint.down_until = 0, 0.0

    # -- calling ------------------------------------------------------------
    def call(self, what: str, session: str | None, attempt: Callable[[Endpoint], object]) -> object:
        """Run ``attempt(endpoint)`` with retries; it raises :class:`RetryableError` to retry."""
        last_error, last_url = "", ""
        tried: set[str] = set()
        for n in range(self.policy.attempts):
            # Spread retries over the other endpoints first; once all were tried, any will do.
            started = self.clock()
            endpoint = self.pick(session, avoid=tried if len(tried) < len(self.endpoints) else set())
            tried.add(endpoint.url)
            try:
                with self._hold(endpoint):
                    result = attempt(endpoint)
            except RetryableError as exc:
                self._failed(endpoint, started)
                last_error, last_url = str(exc), endpoint.url
                if n + 1 < self.policy.attempts:
                    self.sleep(self.policy.delay(n, self._rng))
                    self._wait_for_one()
                continue
            self._succeeded(endpoint)
            return result
        raise RemoteUnavailableError(
            f"{what} at {last_url} failed {self.policy.attempts} times; last: {last_error}"
            + (f" (tried {', '.join(sorted(tried))})" if len(tried) > 1 else "")
        )

    def check(self, model: str, api_key_env: str | None) -> None:
        """Every endpoint answers, accepts the key and serves ``model``; one clear line if not."""
        for endpoint in self.endpoints:
            try:
                response = endpoint.client.get("/models", timeout=10)
            except httpx.HTTPError as exc:
                raise RemoteEngineError(f"{endpoint.url}: unreachable ({describe_failure(exc)}); "
                                        "is the server running?") from None
            if response.status_code in (401, 403):
                raise RemoteEngineError(f"{endpoint.url}: the API key was refused (HTTP {response.status_code}); "
                                        f"check {api_key_env or 'api_key_env'}")
            if response.status_code != 200:
                raise RemoteEngineError(f"{endpoint.url}/models answered HTTP {response.status_code}: "
                                        f"{response.text[:200]}")
            try:
                listed = {m["id"]: m.get("owned_by") for m in response.json().get("data", [])}
            except (ValueError, AttributeError, KeyError, TypeError):
                raise RemoteEngineError(f"{endpoint.url}/models is not an OpenAI model list") from None
            served = list(listed)
            endpoint.owned_by = listed.get(model)
            if model not in served:
                raise RemoteEngineError(f"{endpoint.url} does not serve '{model}'; "
                                        f"it serves: {', '.join(served) or 'nothing'}")

    def close(self) -> None:
        for endpoint in self.endpoints:
            endpoint.client.close()


def session_key(messages: list[dict[str, str]]) -> str:
    """A chat's identity: every step of one question goes to one endpoint (its cached prefix)."""
    digest = hashlib.blake2b(digest_size=12)
    for message in messages:
        digest.update(message.get("role", "").encode() + b"\0" + message.get("content", "").encode() + b"\1")
    return digest.hexdigest()


def describe_failure(exc: BaseException) -> str:
    """One short phrase for a transport failure: what a user can act on."""
    if isinstance(exc, httpx.ConnectError):
        return "connection refused or host unreachable"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection mid-response"
    return f"{type(exc).__name__}: {exc}"


# -- reading replies --------------------------------------------------------------

def raise_for_status(url: str, response: httpx.Response) -> None:
    """Pass a 200; make a 5xx or 429 a retry, and anything else one error naming the server."""
    if response.status_code == 200:
        return
    if response.is_stream_consumed is False:
        response.read()
    message = response.text[:300]
    if is_retryable_status(response.status_code):
        raise RetryableError(f"HTTP {response.status_code}: {message}")
    raise RemoteEngineError(f"{url} refused the request (HTTP {response.status_code}): {message}")


def json_reply(url: str, response: httpx.Response) -> dict:
    """The reply's JSON object with its ``choices``; anything else is one clear error."""
    try:
        data = response.json()
    except ValueError:
        raise RemoteEngineError(f"{url} answered with something that is not JSON: {response.text[:120]!r}") from None
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list) or not data["choices"]:
        raise RemoteEngineError(f"{url} answered without choices: {str(data)[:160]}")
    return data


def post(endpoint: Endpoint, path: str, body: dict) -> httpx.Response:
    """POST ``body`` as JSON; a transport failure becomes a retry, a bad status an error."""
    try:
        response = endpoint.client.post(path, json=body)
    except httpx.HTTPError as exc:
        raise RetryableError(describe_failure(exc)) from None
    raise_for_status(endpoint.url, response)
    return response


def server_root(url: str) -> str:
    """``http://host:8000/v1`` -> ``http://host:8000``: vLLM serves /pooling and /classify beside /v1."""
    return url.removesuffix("/v1")


def sse_chunks(response: httpx.Response) -> Iterator[dict]:
    """The JSON objects of an OpenAI server-sent-event stream, up to ``[DONE]``."""
    for line in response.iter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError:
            raise RetryableError(f"a malformed stream chunk: {data[:80]!r}") from None
        if not isinstance(chunk, dict):
            raise RetryableError(f"a stream chunk that is not an object: {data[:80]!r}")
        yield chunk
