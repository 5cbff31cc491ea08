"""Terminal rendering of steps, costs and comparisons (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from rewardspec.types import Step, Trace

COLOURS = {"draft": "green", "target": "magenta"}


def step_line(index: int, step: Step) -> Text:
    """One decided step: who wrote it, its reward, its tokens, and its text."""
    line = Text()
    colour = COLOURS[step.source]
    line.append(f"step {index:>2} ", style="dim")
    line.append(f"{step.source:<6}", style=f"bold {colour}")
    if step.rejected_draft is not None:
        rej = step.rejected_draft
        why = "looping" if rej.degenerate else f"r={rej.reward:.2f}"
        line.append(f" draft rejected {why} ({rej.generated_tokens} tok)", style="red")
    elif step.reward is not None:
        line.append(f" accepted r={step.reward:.2f}", style=colour)
    line.append(f" {step.generated_tokens} tok", style="dim")
    body = step.text.strip() or "(end of answer)"
    line.append("\n    " + body.replace("\n", "\n    "), style=colour)
    return line


def sci(x: float) -> str:
    """Compact scientific notation for FLOPs: 4.02e11."""
    mantissa, exponent = f"{x:.2e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def usage_table(trace: Trace) -> Table:
    """Tokens and FLOPs per role; FLOPs are 2 x params x tokens."""
    table = Table(title=f"cost of {trace.method}", title_justify="left")
    for col in ("role", "params", "generated", "prompt", "discarded", "scored",
                "FLOPs", "FLOPs+prompt"):
        table.add_column(col, justify="right" if col != "role" else "left")
    for role, u in trace.usage.items():
        if not (u.calls or u.params):
            continue
        table.add_row(role, f"{u.params / 1e9:.2f}B" if u.params else "0",
                      str(u.generated_tokens), str(u.prompt_tokens), str(u.discarded_tokens),
                      str(u.scored_tokens), sci(u.flops), sci(u.flops_with_prompt))
    table.add_row("total", "", "", "", "", "", sci(trace.flops), sci(trace.flops_with_prompt),
                  style="bold")
    return table


def lookahead_text(trace: Trace) -> str | None:
    """Where checked proposals saved decode passes, per role ("target: kept K of N tokens of
    rejected steps, ...; P decode passes saved; checking took S s"); None if none were checked."""
    parts = []
    for role, u in trace.usage.items():
        look = u.lookahead
        if not look.offered:
            continue
        kept = [f"{n} of {m} tokens {what}" for n, m, what in (
            (look.rewrite_accepted, look.rewrite_offered, "of rejected steps"),
            (look.ngram_accepted, look.ngram_offered, "from lookup")) if m]
        parts.append(f"{role}: kept {', '.join(kept)}; {look.passes_saved} decode passes saved; "
                     f"checking took {look.verify_seconds:.1f}s")
    return "checked proposals: " + " | ".join(parts) if parts else None


def saving_text(rsd: Trace, target: Trace) -> Text:
    """RSD's FLOPs against target-only's, both measured on the same question."""
    text = Text("saving vs target alone (measured): ")
    for label, a, b in (("generated-token FLOPs", rsd.flops, target.flops),
                        ("FLOPs with prompt", rsd.flops_with_prompt, target.flops_with_prompt)):
        ratio = b / a if a else float("inf")
        text.append(f"{label} {100 * (1 - a / b):.0f}% less ({ratio:.2f}x); ", style="bold")
    text.append(f"wall {target.wall_seconds:.1f}s -> {rsd.wall_seconds:.1f}s")
    return text


def make_console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False)
