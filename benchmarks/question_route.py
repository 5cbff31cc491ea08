"""δ per question, set before solving: a question head's routes against the draft–target line.

    .venv/bin/rewardspec train-reward --labels question --ids 700-819 --work runs/train-draft \\
        --output runs/question-head.json
    .venv/bin/python benchmarks/question_route.py --head runs/question-head.json [--ids 0-99] \\
        [--output runs/candidates] [--rsd default]

On evaluation problems only (GSM8K ``idx < 700``; the question head trains on ``idx >= 700``),
it runs or resumes the draft alone and the target alone (``benchmarks/candidates.py``'s
``baselines``, :mod:`rewardspec.analysis.baselines`), reads the question head once per problem
(a draft prefill of the prompt) and prints, side by side and against the line:

* the head's AUROC at telling the questions the draft solves from those it does not;
* **routes** (``--route head:…?target_below=P[&draft_above=Q]``) for a grid of thresholds:
  below P the target writes the whole answer, at or above Q the draft does, in between RSD
  (the samples of ``--rsd``, a candidates.py run over the same problems; without it, the
  draft). P = the training problems' draft accuracy (recorded in the head) is the break-even
  threshold, chosen before looking at these problems; the other rows show the sensitivity;
* the **oracle route**: the target exactly for the questions the draft gets wrong, the bound
  for any route before solving.

Each question is solved on its own and greedily, so a route's result is the recorded result
of the model or RSD run it picks: the rows need no new decoding. The read costs the draft one
token with embeddings (ours) on every question, and, with prompts, its prefill of the prompt on
the questions routed to the target (elsewhere that prefill is the draft's first step's); the
rows are :mod:`rewardspec.analysis.question_routes`'s. Written to
``--output``/question_route.json. Run it alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from rich.console import Console

from rewardspec.analysis.auroc import auroc
from rewardspec.analysis.baselines import add_problem_arguments, chosen_problems, run_baselines
from rewardspec.analysis.draft_target_line import add_line_row, line_table, run_row
from rewardspec.analysis.question_routes import route, routed
from rewardspec.eval.runner import read_samples
from rewardspec.prompts import format_question

DEFAULT_THRESHOLDS = "0.1,0.2,0.3,0.4,0.5"


def read_values(head_path: str, questions: dict[str, str], draft: str, cache: Path) -> dict[str, tuple[float, int]]:
    """The head's P(the draft solves it) and the tokens read, per problem (cached per head file
    and question text, so other datasets with the same ids do not collide)."""
    from rewardspec.methods.routing import load_router
    from rewardspec.models import load_model
    from rewardspec.prompts import QWEN_MATH_COT_SYSTEM, build_messages

    key = hashlib.sha256(Path(head_path).read_bytes()).hexdigest()[:16]
    stored = json.loads(cache.read_text()) if cache.exists() else {}
    values = stored.setdefault(key, {})
    text_key = {i: hashlib.sha256(q.encode()).hexdigest()[:16] for i, q in questions.items()}
    todo = [i for i in questions if text_key[i] not in values]
    if todo:
        router = load_router(f"head:{head_path}?target_below=0", lambda spec: load_model(draft))
        for i in todo:
            _, value, tokens = router.decide(build_messages(questions[i], QWEN_MATH_COT_SYSTEM))
            values[text_key[i]] = [value, tokens]
        cache.write_text(json.dumps(stored) + "\n")
    return {i: (float(values[text_key[i]][0]), int(values[text_key[i]][1])) for i in questions}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_problem_arguments(ap, gsm8k_ids="0-99")
    ap.add_argument("--head", required=True, help="a question head (rewardspec train-reward --labels question)")
    ap.add_argument("--output", default="runs/candidates", help="where the baselines are (or go)")
    ap.add_argument("--rsd", default=None, metavar="NAME",
                    help="the candidates.py run (OUTPUT/NAME/samples-rsd.jsonl) that routes between the "
                         "thresholds use; without it the draft writes them")
    ap.add_argument("--thresholds", default=DEFAULT_THRESHOLDS, help="target_below values to show")
    ap.add_argument("--draft-above", type=float, default=None,
                    help="with --rsd: questions at or above this value go to the draft alone")
    args = ap.parse_args()
    if args.draft_above is not None and not args.rsd:
        ap.error("--draft-above splits the questions between RSD and the draft: give --rsd NAME too")
    from rewardspec.build import DEFAULT_DRAFT
    from rewardspec.rewards.value_head import ValueHead

    head = ValueHead.load(args.head)
    metrics = head.provenance.get("metrics", {})
    if head.provenance.get("labels") != "question":
        raise SystemExit(f"{args.head} is not a question head: train one with --labels question")
    common, examples = chosen_problems(args)
    wanted = {e.id for e in examples}
    out = Path(args.output)
    console = Console(stderr=True)
    samples = run_baselines(common, out / "baselines", wanted, console)
    by_route = {m: {r.id: r for r in samples[m]} for m in ("draft", "target")}
    middle = "draft"
    if args.rsd:
        path = out / args.rsd / "samples-rsd.jsonl"
        if not path.exists():
            raise SystemExit(f"{path} does not exist: run benchmarks/candidates.py --candidates "
                             f"'{args.rsd}=REWARD@DELTA' on these problems first")
        by_route["rsd"] = {r.id: r for r in read_samples(path) if r.id in wanted}
        middle = "rsd"

    # Every row over the same problems: those every run has (an --rsd run may be partial).
    questions = {e.id: format_question(e.question, e.choices) for e in examples
                 if all(e.id in runs for runs in by_route.values())}
    if not questions:
        raise SystemExit("no problem is in every run: finish the runs first")
    values = read_values(args.head, questions, DEFAULT_DRAFT, out / "question-values.json")
    params = next(iter(by_route["draft"].values())).usage["draft"].params
    read = {i: tokens for i, (_, tokens) in values.items()}
    solved = {i: by_route["draft"][i].correct for i in questions}
    area = auroc([values[i][0] for i in questions if not solved[i]], [values[i][0] for i in questions if solved[i]])

    base = {m: run_row([by_route[m][i] for i in questions]) for m in ("draft", "target")}
    rows: dict[str, tuple[str, dict]] = {m: ("-", base[m]) for m in ("draft", "target")}
    if "rsd" in by_route:
        rows[f"rsd ({args.rsd})"] = ("every question", run_row([by_route["rsd"][i] for i in questions]))
    rows["oracle route"] = ("target iff the draft is wrong",
                            routed({"draft": by_route["draft"], "target": by_route["target"]},
                                   {i: "draft" if solved[i] else "target" for i in questions}, None, params))
    break_even = metrics.get("right_rate")
    thresholds = sorted({float(t) for t in args.thresholds.split(",")} | ({break_even} if break_even else set()))
    for below in thresholds:
        routes = {i: route(values[i][0], below, args.draft_above if middle == "rsd" else None) for i in questions}
        routes = {i: ("draft" if r == "rsd" and middle == "draft" else r) for i, r in routes.items()}
        name = f"route target_below={below:g}" + (f" draft_above={args.draft_above:g}"
                                                  if args.draft_above is not None and middle == "rsd" else "")
        rows[name] = ("break-even (training draft accuracy)" if below == break_even else f"else {middle}",
                      routed(by_route, routes, read, params))

    title = (f"{args.dataset} {args.ids or ''} ({base['target']['n']} problems, greedy, {args.max_tokens} tokens): "
             f"routes before solving against the draft–target line; question head AUROC {area:.3f} "
             f"(CV on its training problems {metrics.get('cv_question_auroc', float('nan')):.3f})")
    table = line_table(title)
    result = {"dataset": args.dataset, "ids": args.ids, "problems": sorted(questions), "head": args.head,
              "head_auroc": area, "head_cv_auroc": metrics.get("cv_question_auroc"), "break_even": break_even,
              "values": {i: values[i][0] for i in sorted(questions)}, "methods": {}}
    for name, (described, row) in rows.items():
        kept = None if name in ("draft", "target") else \
            " ".join(f"{k[0]}{v}" for k, v in row["routes"].items()) if "routes" in row else f"{row['kept']:.0%}"
        result["methods"][name] = {**add_line_row(table, name, described, row, base, kept), "note": described}
    Console(width=max(160, Console().width)).print(table)
    console.print("steps kept column for routes: questions per run (d draft, t target, r rsd)")
    (out / "question_route.json").write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {out / 'question_route.json'}")


if __name__ == "__main__":
    main()
