"""The demo behind ``make run``: one problem solved live, then a small comparison.

The problems are our own grade-school word problems with known answers, so
the demo needs no dataset and no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rewardspec.display import saving_text, sci, step_line, usage_table
from rewardspec.grading import is_correct
from rewardspec.methods.base import Method
from rewardspec.methods.rsd import RSD
from rewardspec.results import RESULTS_DIR, pct, ratio
from rewardspec.results import load as load_results
from rewardspec.types import Trace


@dataclass(frozen=True)
class Problem:
    question: str
    answer: str


DEMO_PROBLEM = Problem(
    "A school orders 12 boxes of pencils with 24 pencils in each box. It gives 5 pencils "
    "to each of its 40 students. How many pencils are left?",
    "88",
)

# Multi-step problems of GSM8K difficulty, hard enough that the draft alone gets some of them
# wrong, so the comparison shows what the target buys.
PROBLEMS: tuple[Problem, ...] = (
    Problem("A tank holds 240 liters. It is 3/4 full. After 45 liters are used, "
            "how many liters are in the tank?", "135"),
    Problem("A rectangle is 3 times as long as it is wide. Its perimeter is 64 cm. "
            "What is its area in square centimeters?", "192"),
    Problem("A farmer has 36 cows and 4 times as many chickens. He sells a third of the chickens. "
            "How many animals does he have now?", "132"),
    Problem("Liam reads 12 pages on Monday, twice as many on Tuesday, and half as many as on "
            "Tuesday on Wednesday. How many pages did he read in the three days?", "48"),
    Problem("A bus has 52 seats. 3/4 of the seats are taken. At the next stop 9 people get off "
            "and 14 get on. How many seats are empty now?", "8"),
)


def solve_live(solver: Method, question: str, console: Console) -> Trace:
    """Solve with each step printed the moment it is decided."""
    counter = iter(range(1, 10_000))
    return solver.solve(question, on_step=lambda step: console.print(step_line(next(counter), step)))


def compare(solvers: dict[str, Method], problems: tuple[Problem, ...], console: Console) -> Table:
    """Accuracy, FLOPs per question and wall time of each method on ``problems``."""
    table = Table(title=f"rsd vs target vs draft on {len(problems)} built-in problems",
                  title_justify="left")
    for col in ("method", "accuracy", "FLOPs/q", "FLOPs+prompt/q",
                "target steps", "draft steps", "wall s/q"):
        table.add_column(col, justify="left" if col == "method" else "right")
    with console.status("comparing methods…") as status:
        for name, solver in solvers.items():
            traces = []
            for i, problem in enumerate(problems, 1):
                status.update(f"{name}: problem {i}/{len(problems)}")
                traces.append((solver.solve(problem.question), problem))
            n = len(traces)
            correct = sum(is_correct(t.text, p.answer) for t, p in traces)
            table.add_row(
                name, f"{correct}/{n}",
                sci(sum(t.flops for t, _ in traces) / n),
                sci(sum(t.flops_with_prompt for t, _ in traces) / n),
                str(sum(t.target_steps for t, _ in traces)),
                str(sum(t.draft_steps for t, _ in traces)),
                f"{sum(t.wall_seconds for t, _ in traces) / n:.1f}",
            )
    return table


def run_demo(solvers: dict[str, Method], console: Console, problems: tuple[Problem, ...] = PROBLEMS) -> None:
    rsd, target = solvers["rsd"], solvers["target"]
    assert isinstance(rsd, RSD)
    console.rule("[bold]Reward-guided speculative decoding, live")
    console.print(f"[bold]Question:[/] {DEMO_PROBLEM.question}")
    console.print(f"draft [green]{rsd.draft.name}[/]  target [magenta]{rsd.target.name}[/]  "
                  f"reward {rsd.reward.name}  rule {rsd.rule.name} δ={rsd.delta}\n")
    trace = solve_live(rsd, DEMO_PROBLEM.question, console)
    ok = is_correct(trace.text, DEMO_PROBLEM.answer)
    console.print(f"\n[bold]Answer:[/] {trace.answer}  (expected {DEMO_PROBLEM.answer}: "
                  f"{'[green]correct' if ok else '[red]wrong'}[/])")
    with console.status("running the target alone on the same question…"):
        baseline = target.solve(DEMO_PROBLEM.question)
    console.print(usage_table(trace))
    console.print(usage_table(baseline))
    console.print(saving_text(trace, baseline))
    if problems:  # --problems 0 skips the comparison
        console.rule("[bold]Comparison")
        console.print(compare(solvers, problems, console))
    console.print(measured_text(demo_config(rsd)), style="dim")


def demo_config(rsd: RSD) -> dict:
    """What the demo runs, in the keys results files record their configuration by."""
    return {"draft": rsd.draft.name, "target": rsd.target.name, "reward": rsd.reward.name, "delta": rsd.delta,
            "rule": rsd.rule.name, "max_tokens": rsd.config.max_tokens}


def measured_text(config: dict, directory: Path = RESULTS_DIR) -> str:
    """What five problems cannot show: the measured results for exactly this configuration
    (docs/results/), or a plain statement that there are none."""
    described = ", ".join(f"{k} {v}" for k, v in config.items())
    if not directory.is_dir():
        return (f"Measured results live in the repository's docs/results/, which is not here; "
                f"none can be shown for this configuration ({described}).")
    found = [r for r in load_results(directory) if r.matches(config)]
    if not found:
        return f"No measurement in docs/results/ for this configuration ({described})."
    lines = [f"Measured for this configuration ({described}):"]
    for r in found:
        m = r.methods
        rsd = m.get("rsd", {})
        lines.append(f"  {r.title} (n {r.data['n']}, {(r.data['provenance'].get('date') or '')[:10]}"
                     f"{'' if r.data['rerun'] else ', not rerun'}; docs/results/{r.name}.md): "
                     f"RSD {pct(rsd.get('accuracy'))}, target {pct(m.get('target', {}).get('accuracy'))}, "
                     f"draft {pct(m.get('draft', {}).get('accuracy'))}; RSD at "
                     f"{ratio(rsd.get('flops_vs_target'))} the target's FLOPs.")
    lines.append("Accuracies with Wilson 95% intervals; a ratio's interval is a paired bootstrap where one "
                 "was recorded.")
    return "\n".join(lines)
