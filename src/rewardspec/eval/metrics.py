"""Per-method metrics computed from the saved samples (so a resumed run counts every sample once)."""

from __future__ import annotations

from collections import Counter, defaultdict

from rewardspec.eval.records import Comparison, MethodMetrics, ModelCost, SampleRecord
from rewardspec.types import ROLES, DecodeStats, Lookahead
from rewardspec.uncertainty import paired_difference, paired_ratio, wilson

# Ways an answer can end that mean it was cut short, not finished by the model.
CUT_SHORT = ("length", "budget", "degenerate", "max_steps")


def summarize(records: list[SampleRecord]) -> MethodMetrics:
    """Accuracy, cost and acceptance over one method's sample records."""
    n = len(records)
    if n == 0:
        return MethodMetrics()
    per_model = {
        role: ModelCost(
            sum(r.usage[role].flops for r in records) / n,
            sum(r.usage[role].flops_with_prompt for r in records) / n,
            sum(r.usage[role].generated_tokens for r in records) / n,
            sum((r.usage[role].lookahead for r in records), Lookahead()),
        )
        for role in ROLES
    }
    stats = sum((r.stats for r in records), DecodeStats())
    # Acceptance as the method counted it while decoding: of the draft steps a reward judged
    # (RSD), or of the draft tokens a target verified (token-level SD).
    acceptance, unit = None, None
    if stats.judged:
        acceptance, unit = stats.accepted / stats.judged, "steps"
    elif stats.proposed_tokens:
        acceptance, unit = stats.accepted_tokens / stats.proposed_tokens, "tokens"
    # "No target step" only means something where a target could have written.
    mixes = all(r.usage["draft"].params and r.usage["target"].params for r in records)
    wall = sum(r.wall_seconds for r in records)
    response = sum(r.response_tokens for r in records)
    by_level: dict[str, list[bool]] = defaultdict(list)
    for r in records:
        if r.level is not None:
            by_level[str(r.level)].append(r.correct)
    correct = sum(r.correct for r in records)
    return MethodMetrics(
        n=n,
        accuracy=correct / n,
        accuracy_ci95=wilson(correct, n),
        accuracy_by_level={k: sum(v) / len(v) for k, v in sorted(by_level.items())} or None,
        flops_per_question=sum(r.flops for r in records) / n,
        flops_with_prompt_per_question=sum(r.flops_with_prompt for r in records) / n,
        per_model=per_model,
        draft_acceptance=acceptance,
        draft_acceptance_unit=unit,
        draft_only_fraction=sum(all(s.source == "draft" for s in r.steps) for r in records) / n
        if mixes else None,
        response_tokens_per_question=response / n,
        generated_tokens_per_question=sum(r.generated_tokens for r in records) / n,
        wall_seconds=wall,
        wall_seconds_per_question=wall / n,
        tokens_per_second=response / wall if wall else None,
        finish_reasons=dict(sorted(Counter(r.finish_reason or "?" for r in records).items())),
        stats=stats,
    )


def compare(records: list[SampleRecord], baseline: list[SampleRecord], name: str = "target") -> Comparison | None:
    """``records`` against ``baseline`` over the problems both answered, paired by id."""
    theirs = {r.id: r for r in baseline}
    pairs = [(r, theirs[r.id]) for r in records if r.id in theirs]
    if not pairs:
        return None
    ours, base = zip(*pairs)

    def ratio(a: list[float], b: list[float]) -> tuple[float | None, tuple[float, float] | None]:
        return paired_ratio(a, b) if sum(b) > 0 else (None, None)

    difference, difference_ci = paired_difference([float(r.correct) for r in ours], [float(r.correct) for r in base])
    flops, flops_ci = ratio([r.flops for r in ours], [r.flops for r in base])
    wall, wall_ci = ratio([r.wall_seconds for r in ours], [r.wall_seconds for r in base])
    return Comparison(name, len(pairs), difference, difference_ci, flops, flops_ci, wall, wall_ci)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _interval(ci: tuple[float, float] | None, scale: float, fmt: str) -> str:
    return "" if ci is None else f"[{fmt.format(scale * ci[0])}, {fmt.format(scale * ci[1])}]"


def _vs_accuracy(c: Comparison | None) -> str:
    if c is None:
        return "-"
    return f"{100 * c.accuracy_difference:+.1f} {_interval(c.accuracy_difference_ci95, 100, '{:+.1f}')}".strip()


def _vs_flops(c: Comparison | None) -> str:
    if c is None or c.flops_ratio is None:
        return "-"
    return f"{c.flops_ratio:.2f}x {_interval(c.flops_ratio_ci95, 1, '{:.2f}')}".strip()


def markdown_table(methods: dict[str, MethodMetrics]) -> str:
    """The main table, then accuracy per MATH level and FLOPs per model where they apply."""
    shown = {name: m for name, m in methods.items() if m.n}
    rows = ["| method | n | accuracy [95% CI] | vs target: accuracy, points [95% CI] | vs target: FLOPs [95% CI] "
            "| FLOPs/q | FLOPs/q with prompt | draft acceptance | no target step "
            "| response tokens/q | generated tokens/q (all models) | s/q | response tok/s |",
            "|" + "---|" * 13]
    for name, m in shown.items():
        tps, unit = m.tokens_per_second, m.draft_acceptance_unit
        acceptance = _pct(m.draft_acceptance) + (f" of {unit}" if unit else "")
        rows.append(
            f"| {name} | {m.n} | {_pct(m.accuracy)} {_interval(m.accuracy_ci95, 100, '{:.1f}')} "
            f"| {_vs_accuracy(m.vs_target)} | {_vs_flops(m.vs_target)} "
            f"| {m.flops_per_question:.3e} "
            f"| {m.flops_with_prompt_per_question:.3e} | {acceptance} "
            f"| {_pct(m.draft_only_fraction)} | {m.response_tokens_per_question:.0f} "
            f"| {m.generated_tokens_per_question:.0f} "
            f"| {m.wall_seconds_per_question:.1f} | {'-' if not tps else f'{tps:.1f}'} |"
        )
    text = "\n".join(rows) + "\n"
    levels = sorted({level for m in shown.values() for level in (m.accuracy_by_level or {})},
                    key=lambda x: (len(x), x))
    if levels:
        text += "\n## Accuracy per level\n\n| method | " + " | ".join(f"level {x}" for x in levels) + " |\n"
        text += "|" + "---|" * (len(levels) + 1) + "\n"
        for name, m in shown.items():
            by_level = m.accuracy_by_level or {}
            text += f"| {name} | " + " | ".join(_pct(by_level.get(x)) for x in levels) + " |\n"
    reasons = sorted({k for m in shown.values() for k in m.finish_reasons},
                     key=lambda k: (k in CUT_SHORT, k))
    if reasons:
        text += ("\n## How answers ended (budget: the question's token ceiling; degenerate: a loop)\n\n"
                 "| method | " + " | ".join(reasons) + " |\n|" + "---|" * (len(reasons) + 1) + "\n")
        for name, m in shown.items():
            counts = m.finish_reasons
            text += f"| {name} | " + " | ".join(str(counts.get(k, 0)) for k in reasons) + " |\n"
    text += ("\n## FLOPs per question by model (generated tokens / with prompt tokens)\n\n"
             "| method | draft | target | reward |\n|---|---|---|---|\n")
    for name, m in shown.items():
        cells = [f"{pm.flops_per_question:.3e} / {pm.flops_with_prompt_per_question:.3e}"
                 if pm.flops_with_prompt_per_question else "-"
                 for pm in (m.per_model[role] for role in ("draft", "target", "reward"))]
        text += f"| {name} | " + " | ".join(cells) + " |\n"
    return text
