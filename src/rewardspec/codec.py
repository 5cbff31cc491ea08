"""One codec between the typed records and JSON, shared by samples files and the server.

Every layout a user may already have on disk stays readable: keys a record does not know
are ignored, keys it lacks take their defaults, and a samples line written before decode
statistics were recorded gets them back from its steps (:func:`legacy_stats`).
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from rewardspec.types import ROLES, DecodeStats, Lookahead, ModelUsage, RejectedDraft, RouteDecision, Step, Trace

_USAGE_FIELDS = tuple(f.name for f in fields(ModelUsage))
_LOOKAHEAD_FIELDS = tuple(f.name for f in fields(Lookahead))
_STATS_FIELDS = tuple(f.name for f in fields(DecodeStats))


def step_to_json(step: Step, *, text: bool = True) -> dict[str, Any]:
    """A step as files and the wire carry it; a stream chunk leaves the text to its delta."""
    data = asdict(step)
    if not text:
        del data["text"]
    return data


def step_from_json(data: dict[str, Any]) -> Step:
    """A step from any layout we wrote (``tokens`` is read as ``generated_tokens``, the name
    older server responses gave it)."""
    rejected = data.get("rejected_draft")
    return Step(
        text=data.get("text", ""),
        source=data["source"],
        reward=data.get("reward"),
        generated_tokens=int(data.get("generated_tokens", data.get("tokens", 0))),
        rejected_draft=None if rejected is None else RejectedDraft(
            text=rejected.get("text", ""), reward=rejected.get("reward"),
            generated_tokens=int(rejected.get("generated_tokens", rejected.get("tokens", 0))),
            degenerate=bool(rejected.get("degenerate", False))),
    )


def usage_to_json(usage: dict[str, ModelUsage]) -> dict[str, dict[str, Any]]:
    return {role: u.to_dict() for role, u in usage.items()}


def usage_from_json(data: dict[str, dict[str, Any]]) -> dict[str, ModelUsage]:
    """Per-role usage; the FLOPs written beside the tokens are derived, so not read back."""
    usage = {role: ModelUsage() for role in ROLES}
    for role, values in data.items():
        known = {k: v for k, v in values.items() if k in _USAGE_FIELDS}
        known["lookahead"] = lookahead_from_json(values.get("lookahead"))
        usage[role] = ModelUsage(**known)
    return usage


def lookahead_from_json(data: dict[str, Any] | None) -> Lookahead:
    """Proposals checked by one role; absent in records from before 0.3 (none were)."""
    return Lookahead(**{k: v for k, v in (data or {}).items() if k in _LOOKAHEAD_FIELDS})


def stats_to_json(stats: DecodeStats) -> dict[str, int]:
    return asdict(stats)


def stats_from_json(data: dict[str, Any]) -> DecodeStats:
    return DecodeStats(**{k: int(v) for k, v in data.items() if k in _STATS_FIELDS})


def legacy_stats(method: str, steps: list[Step], usage: dict[str, ModelUsage]) -> DecodeStats:
    """The statistics a record written before they were recorded implies, read off its steps
    the way its metrics were computed then (RSD's judged steps; SD's proposed tokens)."""
    stats = DecodeStats()
    if method == "rsd":
        for step in steps:
            if step.source == "draft" and step.reward is not None:
                stats.accepted += 1
            elif step.rejected_draft is not None:
                if step.rejected_draft.degenerate:
                    stats.degenerate += 1
                else:
                    stats.rejected += 1
        stats.drafted = stats.judged
    elif method == "sd":
        draft = usage["draft"]
        stats.proposed_tokens = draft.generated_tokens
        stats.accepted_tokens = max(0, draft.generated_tokens - draft.discarded_tokens)
    return stats


def stats_of(data: dict[str, Any], method: str, steps: list[Step], usage: dict[str, ModelUsage]) -> DecodeStats:
    """A record's statistics: as written, or, for a line from before they were, from its steps."""
    return stats_from_json(data["stats"]) if "stats" in data else legacy_stats(method, steps, usage)


def route_to_json(route: RouteDecision) -> dict[str, Any]:
    return {"route": route.route, "value": route.value}


def route_from_json(data: dict[str, Any] | None) -> RouteDecision | None:
    return None if data is None else RouteDecision(data["route"], float(data["value"]))


def trace_to_json(trace: Trace) -> dict[str, Any]:
    """A whole trace (``rewardspec solve --json``)."""
    data = {
        "question": trace.question,
        "method": trace.method,
        "delta": trace.delta,
        "answer": trace.answer,
        "text": trace.text,
        "steps": [step_to_json(step) for step in trace.steps],
        "usage": usage_to_json(trace.usage),
        "flops": trace.flops,
        "flops_with_prompt": trace.flops_with_prompt,
        "flops_paper": trace.flops_paper,
        "draft_steps": trace.draft_steps,
        "target_steps": trace.target_steps,
        "stats": stats_to_json(trace.stats),
        "finish_reason": trace.finish_reason,
        "wall_seconds": trace.wall_seconds,
    }
    if trace.route is not None:
        data["route"] = route_to_json(trace.route)
    return data


def trace_from_json(data: dict[str, Any]) -> Trace:
    """A trace back from :func:`trace_to_json`'s layout (or a samples line's)."""
    steps = [step_from_json(s) for s in data.get("steps", [])]
    usage = usage_from_json(data.get("usage", {}))
    method = data.get("method", "")
    stats = stats_of(data, method, steps, usage)
    return Trace(question=data.get("question", ""), method=method, steps=steps, usage=usage,
                 delta=data.get("delta"), finish_reason=data.get("finish_reason", ""),
                 wall_seconds=float(data.get("wall_seconds", 0.0)), answer=data.get("answer"),
                 route=route_from_json(data.get("route")), stats=stats)
