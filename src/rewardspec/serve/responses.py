"""Traces in OpenAI's response shapes, plus the ``rsd`` extension objects.

Pure functions of the request's identity and its results: the HTTP handlers
(serve/app.py) only send what these build, so every shape is tested without
an app (tests/test_serve_responses.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rewardspec import __version__

from rewardspec.methods.table import METHODS
from rewardspec.serve.scheduling import ChoiceResult
from rewardspec.codec import stats_to_json, step_to_json, usage_to_json
from rewardspec.types import ROLES, DecodeStats, ModelUsage, Step, Trace, flops, flops_with_prompt


def finish_reason(trace: Trace) -> str:
    """OpenAI's finish_reason: 'stop' when the answer ended, 'length' when a budget cut it.

    A loop ("degenerate") or the question's token ceiling ("budget") cut the answer short
    too, so they read as 'length'; ``rsd.finish_reason`` says which.
    """
    return "stop" if trace.finish_reason in ("eos", "stop") else "length"


def step_info(index: int, step: Step) -> dict[str, Any]:
    """Provenance of one decided step (the extension carried by stream chunks): the step as
    samples files write it (:mod:`rewardspec.codec`), less its text, which the chunk carries."""
    return {"step": index, **step_to_json(step, text=False)}


def _total_usage(traces: list[Trace]) -> dict[str, ModelUsage]:
    """Each role's spend over every choice."""
    return {role: sum((t.usage[role] for t in traces), ModelUsage()) for role in ROLES}


def choice_summary(result: ChoiceResult) -> dict[str, Any]:
    """The ``rsd`` extension of one choice: what it cost and who wrote it."""
    trace = result.trace
    return {
        "seed": result.seed,
        "finish_reason": trace.finish_reason,
        "answer": trace.answer,
        "steps": len(trace.steps),
        "draft_steps": trace.draft_steps,
        "target_steps": trace.target_steps,
        "usage": usage_to_json(trace.usage),
        "stats": stats_to_json(trace.stats),
        "flops": trace.flops,
        "flops_with_prompt": trace.flops_with_prompt,
        "wall_seconds": round(trace.wall_seconds, 4),
    }


def request_summary(results: list[ChoiceResult], method: str, delta: float | None, rule: str,
                    models: dict[str, str | None]) -> dict[str, Any]:
    """The top-level ``rsd`` extension: totals over the choices and every step's provenance."""
    traces = [r.trace for r in results]
    usage = _total_usage(traces)
    steps = []
    for r in results:
        for i, step in enumerate(r.trace.steps):
            steps.append({"choice": r.index, "step": i, **step_to_json(step)})
    used = METHODS[method].roles
    return {
        "method": method,
        "delta": delta if method == "rsd" else None,
        "rule": rule if method == "rsd" else None,
        "models": {role: models.get(role) if role in used else None for role in ROLES},
        "draft_steps": sum(t.draft_steps for t in traces),
        "target_steps": sum(t.target_steps for t in traces),
        "usage": usage_to_json(usage),
        "stats": stats_to_json(sum((t.stats for t in traces), DecodeStats())),
        "flops": flops(usage),
        "flops_with_prompt": flops_with_prompt(usage),
        "steps": steps,
    }


def token_usage(results: list[ChoiceResult]) -> dict[str, int]:
    """OpenAI ``usage``: each distinct prompt counted once, every choice's response tokens."""
    prompts: dict[int, int] = {}
    for r in results:
        prompts.setdefault(r.prompt_index, r.prompt_tokens)
    prompt = sum(prompts.values())
    completion = sum(r.trace.response_tokens for r in results)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


FINGERPRINT = f"rewardspec-{__version__}"


@dataclass(frozen=True)
class Reply:
    """Who a response answers: the request's id, time, model id, method and δ, and the server's rule."""

    id: str
    created: int
    model: str
    method: str
    delta: float | None
    rule: str
    models: dict[str, str | None]
    chat: bool


def full_response(reply: Reply, results: list[ChoiceResult]) -> dict[str, Any]:
    """The non-streaming body: every choice in index order, usage and the ``rsd`` extension."""
    choices = []
    for r in sorted(results, key=lambda r: r.index):
        choice: dict[str, Any] = {"index": r.index}
        if reply.chat:
            choice["message"] = {"role": "assistant", "content": r.trace.text}
        else:
            choice["text"] = r.trace.text
        choice.update(logprobs=None, finish_reason=finish_reason(r.trace), rsd=choice_summary(r))
        choices.append(choice)
    return {
        "id": reply.id,
        "object": "chat.completion" if reply.chat else "text_completion",
        "created": reply.created,
        "model": reply.model,
        "system_fingerprint": FINGERPRINT,
        "choices": choices,
        "usage": token_usage(results),
        "rsd": request_summary(results, reply.method, reply.delta, reply.rule, reply.models),
    }


class StreamChunks:
    """The server-sent events of a streamed response, one builder per kind of chunk."""

    def __init__(self, reply: Reply, include_usage: bool) -> None:
        self.reply, self.include_usage = reply, include_usage
        self._base = {"id": reply.id, "object": "chat.completion.chunk" if reply.chat else "text_completion",
                      "created": reply.created, "model": reply.model, "system_fingerprint": FINGERPRINT}

    def _event(self, choice: dict[str, Any]) -> str:
        data = {**self._base, "choices": [choice]}
        if self.include_usage:
            data["usage"] = None
        return f"data: {json.dumps(data)}\n\n"

    def _piece(self, index: int, text: str | None, finish: str | None, rsd: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"index": index}
        if self.reply.chat:
            out["delta"] = {} if text is None else {"content": text}
        else:
            out["text"] = text or ""
        out.update(logprobs=None, finish_reason=finish, rsd=rsd)
        return out

    def opening(self, index: int) -> str | None:
        """A chat choice opens with the assistant role (completions have no opening chunk)."""
        if not self.reply.chat:
            return None
        return self._event({"index": index, "delta": {"role": "assistant", "content": ""},
                            "logprobs": None, "finish_reason": None})

    def step(self, index: int, step_index: int, step: Step) -> str:
        return self._event(self._piece(index, step.text, None, step_info(step_index, step)))

    def finished(self, result: ChoiceResult) -> str:
        return self._event(self._piece(result.index, None, finish_reason(result.trace), choice_summary(result)))

    def usage(self, results: list[ChoiceResult]) -> str | None:
        """The closing usage chunk, when the client asked for one."""
        if not self.include_usage:
            return None
        r = self.reply
        data = {**self._base, "choices": [], "usage": token_usage(results),
                "rsd": request_summary(results, r.method, r.delta, r.rule, r.models)}
        return f"data: {json.dumps(data)}\n\n"

    @staticmethod
    def error(body: dict[str, Any]) -> str:
        return f"data: {json.dumps(body)}\n\n"

    DONE = "data: [DONE]\n\n"
