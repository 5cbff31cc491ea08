"""What would a perfect step reward buy with this draft? RSD with a rollout oracle, and rollout labels.

    .venv/bin/python benchmarks/step_oracle.py [--ids 0-29] [--output runs/step-oracle]

Every draft step RSD proposes gets a **rollout label**: the target continues greedily from
the prefix and that step to the end of the answer, and the step is *good* when that rollout
reaches the right answer (Math-Shepherd's hard estimate, with one greedy completion by the
model that would write the rest in RSD). The **step-level oracle** then decides each step:

* ``--oracle harmless`` (default) rejects only the *harmful* steps: those after which the
  target's rollout fails where from the prefix alone it would have succeeded. Once no target
  rollout succeeds from the prefix, a rewrite cannot help, so the draft's cheaper steps stay;
* ``--oracle good`` accepts exactly the good steps (the issue's literal rule): every step after
  a doomed prefix is then rejected and rewritten, at the target's cost, to no avail.

The rollouts are not counted as FLOPs: the oracle is a bound on what any reward could do with
this draft and this target, not a method.

It prints, on the same problems and settings as ``benchmarks/candidates.py`` (whose
``--output``/baselines it reuses, or runs):

* the oracle's accuracy, its gain over the draft–target line, its FLOPs ÷ target in all three
  conventions and the share of draft steps it kept;
* how many draft steps are good, and each free reward's step-level AUROC against the labels,
  with what it does at its δ (good steps it rejects, bad steps it keeps); ``--score SPEC``
  (repeatable) scores the labelled steps afterwards with any other reward too, e.g. a value
  head read on the target (``head:PATH``) or ``ratio:target``.

Labels go to ``--output``/labels.jsonl and the oracle's samples to samples-oracle.jsonl, one
line per problem as it finishes (resumable); the summary to step_oracle.json. Run it alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import track
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from candidates import add_problem_arguments, chosen_problems, line_gain, run_baselines, summarize  # noqa: E402
from reward_selection import auroc  # noqa: E402

from rewardspec.eval.datasets import Example  # noqa: E402
from rewardspec.eval.runner import Solvers, load_config, make_record, read_samples  # noqa: E402
from rewardspec.methods.rsd import RSD, DecodeConfig, as_chat  # noqa: E402
from rewardspec.models.base import LanguageModel  # noqa: E402
from rewardspec.prompts import format_question  # noqa: E402
from rewardspec.rollouts import Roller  # noqa: E402
from rewardspec.rewards import DEFAULT_REWARD, make_reward  # noqa: E402
from rewardspec.rewards.base import RewardModel  # noqa: E402
from rewardspec.types import Generation, RewardScore, Step  # noqa: E402

FREE_REWARDS = (DEFAULT_REWARD, "likelihood-min", "arithmetic")
ORACLES = ("harmless", "good")


class RolloutOracle:
    """A reward that knows the gold answer and asks the target to roll out from each step.

    ``mode="good"`` accepts exactly the steps whose rollout succeeds (the rollout label).
    ``mode="harmless"`` (default) rejects only the steps that do harm: the target's rollout
    from the prefix alone would succeed and from the prefix and the step it fails. Once no
    target rollout can succeed from the prefix, a rewrite by the target cannot help and
    the draft's cheaper steps are kept. In a greedy world this oracle is right whenever the
    target alone is, for the fewest target steps that guarantee it.

    It also scores each step with the free rewards, so that their labels and scores come
    from exactly the steps RSD saw. ``start`` sets the problem; RSD's ``on_step`` callback
    (``decided``) keeps count of the response's tokens, which bound each rollout.
    """

    name = "oracle:rollout-target"
    params = 0

    def __init__(self, roller: LanguageModel, decode: DecodeConfig, dataset: str,
                 free: dict[str, RewardModel], mode: str = "harmless") -> None:
        if mode not in ORACLES:
            raise ValueError(f"oracle mode must be one of {', '.join(ORACLES)}; got {mode!r}")
        self.roller_model, self.decode, self.dataset, self.free, self.mode = roller, decode, dataset, free, mode
        self.roller: Roller | None = None
        self.labels: list[dict[str, Any]] = []
        self.response_tokens = 0

    def start(self, example: Example) -> None:
        self.labels, self.response_tokens = [], 0
        self.roller = Roller(self.roller_model, self.decode, example, self.dataset)

    def decided(self, step: Step) -> None:
        self.response_tokens += step.generated_tokens

    def score(self, question: str, previous_steps: list[str], step: str,
              generation: Generation | None = None) -> RewardScore:
        assert self.roller is not None, "start(example) first"
        prefix = "".join(previous_steps)
        step_tokens = generation.generated_tokens if generation else 0
        left = self.decode.max_tokens - self.response_tokens
        after = self.roller.outcome(prefix + step, left - step_tokens,
                                    ended=generation is not None and generation.ends_answer)
        good = after.correct
        label: dict[str, Any] = {
            "step": len(previous_steps), "text": step, "good": good, "rollout_tokens": after.rollout_tokens,
            "rollout_answer": after.answer,
            "rewards": {spec: r.score(question, previous_steps, step, generation).value
                        for spec, r in self.free.items()},
        }
        accept = good
        if self.mode == "harmless" and not good:
            label["solvable_before"] = self.roller.outcome(prefix, left).correct
            accept = not label["solvable_before"]
        self.labels.append(label)
        return RewardScore(1.0 if accept else 0.0)


def step_table(labels: list[dict[str, Any]], deltas: dict[str, float]) -> tuple[Table, dict[str, Any]]:
    """Each free reward against the rollout labels: AUROC, and its errors at its δ."""
    good = [s for s in labels if s["good"]]
    bad = [s for s in labels if not s["good"]]
    table = Table(title=f"{len(labels)} draft steps with rollout labels: {len(good)} good "
                        f"({len(good) / max(1, len(labels)):.0%}), {len(bad)} bad")
    harmful = [s for s in bad if s.get("solvable_before")]
    harmless = good + [s for s in bad if s.get("solvable_before") is False]
    table.caption = (f"harmful: {len(harmful)} bad steps after which the target's rollout fails where from "
                     f"the prefix alone it would succeed; harmless: the {len(harmless)} other steps with that known")
    for col in ("reward", "AUROC (good vs. bad)", "AUROC (harmless vs. harmful)", "δ", "good steps rejected",
                "bad steps kept", "harmful steps kept", "harmless steps rejected"):
        table.add_column(col, justify="left" if col == "reward" else "right")
    out: dict[str, Any] = {}
    for spec in sorted({k for s in labels for k in s["rewards"]}):
        area = auroc([s["rewards"][spec] for s in bad], [s["rewards"][spec] for s in good])
        harm_area = auroc([s["rewards"][spec] for s in harmful], [s["rewards"][spec] for s in harmless])
        delta = deltas.get(spec, 0.7)
        rejected_good = sum(s["rewards"][spec] < delta for s in good) / max(1, len(good))
        kept_bad = sum(s["rewards"][spec] >= delta for s in bad) / max(1, len(bad))
        kept_harmful = sum(s["rewards"][spec] >= delta for s in harmful) / max(1, len(harmful))
        rejected_harmless = sum(s["rewards"][spec] < delta for s in harmless) / max(1, len(harmless))
        table.add_row(spec, f"{area:.2f}", f"{harm_area:.2f}", f"{delta:g}", f"{rejected_good:.0%}",
                      f"{kept_bad:.0%}", f"{kept_harmful:.0%}" if harmful else "-",
                      f"{rejected_harmless:.0%}" if harmful else "-")
        out[spec] = {"auroc": area, "auroc_harmful": harm_area, "delta": delta, "good_rejected": rejected_good,
                     "bad_kept": kept_bad, "harmful_kept": kept_harmful, "harmless_rejected": rejected_harmless,
                     "harmful_steps": len(harmful)}
    return table, out


def score_labels(by_id: dict[str, list], traces: dict, specs: list[str], solvers: Solvers, cache: Path,
                 console: Console) -> None:
    """Add each spec's score to every labelled step, from (and into) ``cache``: the steps as RSD saw
    them, after the oracle run's accepted steps, with the draft's own log-probabilities."""
    stored: dict[str, dict[str, list[float]]] = json.loads(cache.read_text()) if cache.exists() else {}
    draft = solvers.models.draft
    for spec in specs:
        reward = make_reward(spec, solvers.models.role_or_model)
        done = stored.setdefault(spec, {})
        for pid, steps in track(list(by_id.items()), description=f"scoring {spec}", console=console):
            if pid not in done and pid in traces:
                trace = traces[pid]
                messages = as_chat(format_question(trace.question), solvers.decode.system_prompt)[1]
                values = []
                for label in steps:
                    previous = [s["text"] for s in trace.steps[:label["step"]]]
                    own = draft.score_continuation(messages, "".join(previous), label["text"]).token_logprobs
                    gen = Generation(label["text"], len(own), 0, "step", own)
                    values.append(reward.score(trace.question, previous, label["text"], gen).value)
                done[pid] = values
                cache.write_text(json.dumps(stored))
        for pid, steps in by_id.items():
            for label, value in zip(steps, done.get(pid, [])):
                label["rewards"][spec] = value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_problem_arguments(ap, gsm8k_ids="0-29")
    ap.add_argument("--output", default="runs/step-oracle")
    ap.add_argument("--baselines", default=None,
                    help="a candidates.py baselines directory to reuse (default: OUTPUT/baselines)")
    ap.add_argument("--oracle", default="harmless", choices=ORACLES,
                    help="harmless: reject only steps that turn a target rollout from right to wrong; "
                         "good: accept exactly the steps whose rollout succeeds")
    ap.add_argument("--free-rewards", default=",".join(FREE_REWARDS))
    ap.add_argument("--score", action="append", default=[], metavar="SPEC",
                    help="also score every labelled step with this reward afterwards (repeatable)")
    args = ap.parse_args()
    common, examples = chosen_problems(args)
    wanted = {e.id for e in examples}
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=True)
    baselines = run_baselines(common, Path(args.baselines) if args.baselines else out / "baselines", wanted, console)

    cfg = load_config(None, {**common, "methods": ["rsd"], "output": str(out)})
    dataset = examples[0].dataset
    solvers = Solvers(cfg, dataset)
    free = {spec: make_reward(spec) for spec in args.free_rewards.split(",") if spec}
    oracle = RolloutOracle(solvers.models.target, solvers.decode, dataset, free, args.oracle)
    rsd = RSD(draft=solvers.models.draft, target=solvers.models.target, reward=oracle, delta=0.5,
              method="rsd", config=solvers.decode)

    samples_path, labels_path = out / "samples-oracle.jsonl", out / "labels.jsonl"
    settings = {"oracle": args.oracle, "dataset": dataset, "max_tokens": args.max_tokens}
    settings_path = out / "oracle.json"
    if settings_path.exists() and json.loads(settings_path.read_text()) != settings and samples_path.exists():
        raise SystemExit(f"{out} holds an oracle run made with {settings_path.read_text().strip()}; "
                         f"now {json.dumps(settings)}: choose another --output")
    settings_path.write_text(json.dumps(settings) + "\n")
    done = {r.id for r in read_samples(samples_path)}
    todo = [e for e in examples if e.id not in done]
    with open(samples_path, "a", encoding="utf-8") as samples, open(labels_path, "a", encoding="utf-8") as labels:
        for example in track(todo, description="oracle rollouts", console=console):
            oracle.start(example)
            trace = rsd.solve(format_question(example.question, example.choices), on_step=oracle.decided)
            labels.write(json.dumps({"id": example.id, "steps": oracle.labels}, ensure_ascii=False) + "\n")
            labels.flush()
            samples.write(json.dumps(make_record(example, trace, dataset).to_dict(), ensure_ascii=False) + "\n")
            samples.flush()

    traces = {r.id: r for r in read_samples(samples_path) if r.id in wanted}
    rows = {m: summarize(baselines[m]) for m in ("draft", "target")}
    rows["step oracle"] = summarize(list(traces.values()))
    by_id: dict[str, list] = {}
    for line in labels_path.read_text(encoding="utf-8").splitlines():
        if line.strip() and (row := json.loads(line))["id"] in wanted:
            by_id.setdefault(row["id"], row["steps"])  # a problem resumed after a crash: its first labels
    if args.score:
        score_labels(by_id, traces, args.score, solvers, out / "scores.json", console)
    step_labels = [s for steps in by_id.values() for s in steps]

    t, d = rows["target"], rows["draft"]
    table = Table(title=f"{dataset}, {t['n']} problems, greedy, {args.max_tokens} tokens: "
                        f"the step-level oracle ({args.oracle}) against the draft–target line")
    for col in ("method", "accuracy", "gain (pts)", "FLOPs ÷ target", "+prompt ÷ t", "paper ÷ t", "steps kept"):
        table.add_column(col, justify="left" if col == "method" else "right")
    result: dict[str, Any] = {"dataset": dataset, "oracle": args.oracle, "ids": args.ids, "levels": args.levels, "limit": args.limit,
                              "max_tokens": args.max_tokens, "methods": {}}
    for name, row in rows.items():
        gain = line_gain(row["accuracy"], row["flops"], (d["flops"], d["accuracy"]), (t["flops"], t["accuracy"]))
        ratio = {k: row[k] / t[k] for k in ("flops", "flops_with_prompt", "flops_paper")}
        table.add_row(name, f"{row['accuracy']:.1%}", f"{100 * gain:+.1f}", f"{ratio['flops']:.2f}x",
                      f"{ratio['flops_with_prompt']:.2f}x", f"{ratio['flops_paper']:.2f}x",
                      f"{row['kept']:.0%}" if name == "step oracle" else "-")
        result["methods"][name] = {**row, "gain": gain, "ratio_to_target": ratio}
    steps, result["rewards"] = step_table(step_labels, {"likelihood-min": 0.7, DEFAULT_REWARD: 0.7, "arithmetic": 0.5,
                                                        **{spec: 0.5 for spec in args.score}})
    result["labelled_steps"] = len(step_labels)
    result["good_steps"] = sum(s["good"] for s in step_labels)
    wide = Console(width=max(120, Console().width))
    wide.print(table)
    wide.print(steps)
    (out / "step_oracle.json").write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {out / 'step_oracle.json'}, {labels_path}")


if __name__ == "__main__":
    main()
