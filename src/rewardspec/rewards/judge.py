"""An LLM judge as the reward, for domains with no PRM (general chat, code, law).

``judge:MODEL@URL[,URL…][?params=…&api_key_env=…&logprobs=false]`` asks any
chat model behind an OpenAI-compatible server to rate the new step from 0 to
9, as SpecReason does, and reads the rating from the top log-probabilities of
its one answer token: r = E[digit] / 9 over the digits among them, which is
smoother than the single digit it would write. A server that returns no
log-probabilities (``logprobs=false``, or llama-cpp-python's server without
``--logits_all true``) gives the written digit. A reply with no digit at all
scores 0: the step goes to the target, the safe side. The judge's prompt and
answer tokens are counted as reward cost.
"""

from __future__ import annotations

import dataclasses
import math
import re

import httpx

from rewardspec.endpoints import (
    EndpointPool,
    RemoteEngineError,
    RetryableError,
    describe_failure,
    json_reply,
    raise_for_status,
    session_key,
)
from rewardspec.remote_spec import RemoteSpec
from rewardspec.specs import Spec
from rewardspec.types import Generation, RewardScore

JUDGE_SYSTEM = (
    "You grade one step of a solution. Given the problem, the steps so far and the new step, "
    "rate how likely the new step is correct and helpful, from 0 (certainly wrong) to 9 "
    "(certainly right). Reply with the single digit only."
)
_DIGIT = re.compile(r"\d")


def judge_messages(question: str, previous_steps: list[str], step: str) -> list[dict[str, str]]:
    so_far = "".join(previous_steps).strip() or "(none yet)"
    return [
        {"role": "system", "content": JUDGE_SYSTEM},
        {"role": "user", "content": f"Problem:\n{question.strip()}\n\nSteps so far:\n{so_far}\n\n"
                                    f"New step:\n{step.strip()}\n\nRating (0-9):"},
    ]


def rating_from(choice: dict) -> float:
    """r in [0, 1] from one chat choice: expected digit under its top log-probabilities, else
    the digit it wrote, else 0."""
    content = ((choice.get("logprobs") or {}).get("content")) or []
    if content:
        weights: dict[int, float] = {}
        for candidate in content[0].get("top_logprobs") or []:
            token = str(candidate.get("token", "")).strip()
            if len(token) == 1 and token.isdigit() and candidate.get("logprob") is not None:
                weights[int(token)] = weights.get(int(token), 0.0) + math.exp(float(candidate["logprob"]))
        if weights:
            return sum(d * w for d, w in weights.items()) / sum(weights.values()) / 9.0
    digit = _DIGIT.search(str((choice.get("message") or {}).get("content") or ""))
    return int(digit.group()) / 9.0 if digit else 0.0


class JudgeReward:
    """A chat model on a server, asked for a 0-9 rating of each step."""

    def __init__(self, spec: RemoteSpec, pool: EndpointPool | None = None, top_logprobs: int = 10) -> None:
        self.spec = spec
        self.name = f"judge:{spec.model}"
        self.params = spec.params
        self.pool = pool or spec.pool()
        self._logprobs = spec.logprobs is not False  # on unless logprobs=false
        self._top = top_logprobs

    def score(self, question: str, previous_steps: list[str], step: str,
              generation: Generation | None = None) -> RewardScore:
        messages = judge_messages(question, previous_steps, step)
        body = {"model": self.spec.model, "messages": messages, "max_tokens": 1, "temperature": 0.0}
        if self.spec.seed:
            body["seed"] = 0
        asked = self._logprobs  # what this request asks; other threads may change the flag meanwhile
        if asked:
            body.update(logprobs=True, top_logprobs=self._top)
        # One question's judge calls share its prefix (system, problem): keep them on one server.
        session = session_key([messages[0], {"role": "user", "content": question}])
        try:
            data = self.pool.call("judge", session, lambda e: self._post(e, body))
        except LogprobsUnsupported:
            if not asked:
                raise RemoteEngineError(f"{self.name}: the server refused a request without logprobs") from None
            self._logprobs = False  # this server cannot: read the written digit from now on
            return self.score(question, previous_steps, step, generation)
        usage = data.get("usage") or {}
        cached = int(((usage.get("prompt_tokens_details") or {}).get("cached_tokens")) or 0)
        return RewardScore(rating_from((data.get("choices") or [{}])[0]),
                           scored_tokens=int(usage.get("completion_tokens") or 1),
                           prompt_tokens=max(0, int(usage.get("prompt_tokens") or 0) - cached))

    def check(self) -> None:
        self.pool.check(self.spec.model, self.spec.api_key_env)

    def _post(self, endpoint, body: dict) -> dict:
        try:
            response = endpoint.client.post("/chat/completions", json=body)
        except httpx.HTTPError as exc:
            raise RetryableError(describe_failure(exc)) from None
        if response.status_code == 500 and "logits_all" in response.text:
            raise LogprobsUnsupported(f"{endpoint.url}: logprobs need the server's --logits_all true")
        raise_for_status(endpoint.url, response)
        return json_reply(endpoint.url, response)


class LogprobsUnsupported(RemoteEngineError):
    """The server cannot return log-probabilities (llama-cpp-python without --logits_all)."""


def load_judge(spec: Spec, load: object = None) -> JudgeReward:
    """``judge:MODEL@URL[,URL…][?options]`` (``judge:openai:MODEL@…`` reads the same), checked at once."""
    if spec.body.startswith("openai:"):
        spec = dataclasses.replace(spec, body=spec.body[len("openai:"):].strip())
    judge = JudgeReward(RemoteSpec.from_parsed(spec, usage="judge:MODEL@http://HOST:PORT/v1"))
    judge.check()
    return judge
