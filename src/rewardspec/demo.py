"""The demo behind ``make run``: one problem solved live, then a small comparison.

The problems are our own grade-school word problems with known answers, so
the demo needs no dataset and no network.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from rewardspec.display import saving_text, sci, step_line, usage_table
from rewardspec.grading import is_correct
from rewardspec.methods.rsd import RSD
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

PROBLEMS: tuple[Problem, ...] = (
    Problem("A baker makes 24 muffins in the morning and 18 muffins in the afternoon. "
            "He sells 30 muffins. How many muffins are left?", "12"),
    Problem("Tom buys 3 notebooks at $4 each and a pen for $2. He pays with a $20 bill. "
            "How much change, in dollars, does he get?", "6"),
    Problem("A train travels at 60 miles per hour for 2.5 hours. How many miles does it travel?",
            "150"),
    Problem("Sara has twice as many stickers as Ben. Ben has 15 stickers. "
            "How many stickers do they have together?", "45"),
    Problem("A garden has 7 rows of tomato plants with 9 plants in each row. "
            "13 plants die. How many plants remain?", "50"),
)


def solve_live(solver: RSD, question: str, console: Console) -> Trace:
    """Solve with each step printed the moment it is decided."""
    counter = iter(range(1, 10_000))
    return solver.solve(question, on_step=lambda step: console.print(step_line(next(counter), step)))


def compare(solvers: dict[str, RSD], problems: tuple[Problem, ...], console: Console) -> Table:
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


def run_demo(solvers: dict[str, RSD], console: Console, problems: tuple[Problem, ...] = PROBLEMS) -> None:
    rsd, target = solvers["rsd"], solvers["target"]
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
    console.rule("[bold]Comparison")
    console.print(compare(solvers, problems, console))
