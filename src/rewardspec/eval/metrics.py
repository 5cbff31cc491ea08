"""Per-method metrics computed from the saved samples (so a resumed run counts every sample once)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy, cost and acceptance over one method's sample records."""
    n = len(records)
    if n == 0:
        return {"n": 0, "accuracy": None}
    usage_roles = ("draft", "target", "reward")
    per_model = {
        role: {
            "flops_per_question": sum(r["usage"][role]["flops"] for r in records) / n,
            "flops_with_prompt_per_question": sum(r["usage"][role]["flops_with_prompt"] for r in records) / n,
            "generated_tokens_per_question": sum(r["usage"][role]["generated_tokens"] for r in records) / n,
        }
        for role in usage_roles
    }
    draft_steps = sum(sum(s["source"] == "draft" for s in r["steps"]) for r in records)
    rejected = sum(sum(s.get("rejected_draft") is not None for s in r["steps"]) for r in records)
    # Acceptance only means something where a draft proposes and a target can overrule.
    mixes = all(r["usage"]["draft"]["params"] and r["usage"]["target"]["params"] for r in records)
    acceptance = None
    if mixes and draft_steps + rejected and any(r["method"] == "rsd" for r in records):
        acceptance = draft_steps / (draft_steps + rejected)  # step level (RSD)
    elif mixes:
        proposed = sum(r["usage"]["draft"]["generated_tokens"] for r in records)
        discarded = sum(r["usage"]["draft"]["discarded_tokens"] for r in records)
        acceptance = 1 - discarded / proposed if proposed else None  # token level (SD)
    wall = sum(r["wall_seconds"] for r in records)
    generated = sum(sum(r["usage"][role]["generated_tokens"] for role in usage_roles) for r in records)
    by_level: dict[str, list[bool]] = defaultdict(list)
    for r in records:
        if r.get("level") is not None:
            by_level[str(r["level"])].append(r["correct"])
    return {
        "n": n,
        "accuracy": sum(r["correct"] for r in records) / n,
        "accuracy_by_level": {k: sum(v) / len(v) for k, v in sorted(by_level.items())} or None,
        "flops_per_question": sum(r["flops"] for r in records) / n,
        "flops_with_prompt_per_question": sum(r["flops_with_prompt"] for r in records) / n,
        "per_model": per_model,
        "draft_acceptance": acceptance,
        "draft_only_fraction": sum(all(s["source"] == "draft" for s in r["steps"]) for r in records) / n
        if mixes else None,
        "response_tokens_per_question": sum(sum(s["generated_tokens"] for s in r["steps"]) for r in records) / n,
        "generated_tokens_per_question": generated / n,
        "wall_seconds": wall,
        "wall_seconds_per_question": wall / n,
        "tokens_per_second": generated / wall if wall else None,
    }


def markdown_table(methods: dict[str, dict[str, Any]]) -> str:
    head = ("| method | n | accuracy | FLOPs/q | FLOPs/q with prompt | draft acceptance "
            "| no target step | tokens/q | s/q | tok/s |")
    rows = [head, "|" + "---|" * 10]

    def pct(x):
        return "-" if x is None else f"{100 * x:.1f}%"

    for name, m in methods.items():
        if not m.get("n"):
            continue
        tps = m["tokens_per_second"]
        rows.append(
            f"| {name} | {m['n']} | {pct(m['accuracy'])} | {m['flops_per_question']:.3e} "
            f"| {m['flops_with_prompt_per_question']:.3e} | {pct(m['draft_acceptance'])} "
            f"| {pct(m['draft_only_fraction'])} | {m['generated_tokens_per_question']:.0f} "
            f"| {m['wall_seconds_per_question']:.1f} | {'-' if not tps else f'{tps:.1f}'} |"
        )
    return "\n".join(rows) + "\n"
