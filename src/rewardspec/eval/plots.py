"""Accuracy against compute: the two pictures users judge RSD by."""

from __future__ import annotations

from pathlib import Path

from rewardspec.eval.records import MethodMetrics


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers or CI
    import matplotlib.pyplot as plt

    return plt


def accuracy_vs_flops(methods: dict[str, MethodMetrics], path: Path, title: str) -> Path:
    """One point per method (or δ): accuracy against FLOPs per question, log x, each with its
    95% interval: on tens of problems the bars, not the points, say what is settled."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    for name, m in methods.items():
        if not m.n:
            continue
        x, y = m.flops_per_question, 100 * m.accuracy
        yerr = None
        if m.accuracy_ci95 is not None:
            yerr = [[max(0.0, y - 100 * m.accuracy_ci95[0])], [max(0.0, 100 * m.accuracy_ci95[1] - y)]]
        ax.errorbar([x], [y], yerr=yerr, fmt="o", markersize=7, capsize=3, zorder=3)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xscale("log")
    ax.margins(x=0.12, y=0.1)  # room for the labels of the extreme points
    ax.set_xlabel("FLOPs per question (generated tokens, 2 x params x tokens)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _yerr(metrics: list[MethodMetrics]) -> list[list[float]] | None:
    """Asymmetric 95% error bars in percent, where every point has its interval."""
    if any(m.accuracy_ci95 is None for m in metrics):
        return None
    # max(0, …): at 0% or 100% the interval's end equals the point up to rounding, which
    # matplotlib refuses as a negative length.
    return [[max(0.0, 100 * (m.accuracy - m.accuracy_ci95[0])) for m in metrics],
            [max(0.0, 100 * (m.accuracy_ci95[1] - m.accuracy)) for m in metrics]]


def sweep_plot(deltas: list[float], rsd: list[MethodMetrics], baselines: dict[str, MethodMetrics],
               path: Path, title: str) -> Path:
    """Accuracy and FLOPs of RSD against δ, with target and draft as reference lines."""
    plt = _pyplot()
    fig, (ax_acc, ax_flops) = plt.subplots(1, 2, figsize=(10, 4), dpi=120)
    ax_acc.errorbar(deltas, [100 * m.accuracy for m in rsd], fmt="o-", capsize=3, label="rsd",
                    yerr=_yerr(rsd))
    ax_flops.plot(deltas, [m.flops_per_question for m in rsd], "o-", label="rsd")
    styles = {"target": "--", "draft": ":"}
    for name, m in baselines.items():
        ax_acc.axhline(100 * m.accuracy, linestyle=styles.get(name, "-."), color="grey", label=name)
        ax_flops.axhline(m.flops_per_question, linestyle=styles.get(name, "-."), color="grey", label=name)
    ax_acc.set_xlabel("δ (acceptance threshold)")
    ax_acc.set_ylabel("accuracy (%)")
    ax_flops.set_xlabel("δ (acceptance threshold)")
    ax_flops.set_ylabel("FLOPs per question")
    ax_flops.set_yscale("log")
    for ax in (ax_acc, ax_flops):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
