"""The evaluation problems a comparison runs on, and the draft and target alone over them.

The comparison benchmarks (candidates, question routes, the step oracle) put their rows
against the same two baselines on the same problems, with the same settings; choosing the
problems and running (or resuming) the baselines the same way lets one run's baselines
serve them all. The heads train on GSM8K ``idx >= 700``, so the default problems here are
below it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from rewardspec.eval.datasets import Example, load_dataset
from rewardspec.eval.records import SampleRecord
from rewardspec.eval.runner import load_config, read_samples, run_eval


def add_problem_arguments(ap: argparse.ArgumentParser, gsm8k_ids: str) -> None:
    """The options that choose the evaluation problems and their settings."""
    ap.add_argument("--dataset", default="gsm8k")
    ap.add_argument("--ids", default=None,
                    help=f"evaluation problems, never the heads' training ones (default for gsm8k: {gsm8k_ids})")
    ap.add_argument("--levels", default=None, help="only problems of these levels, e.g. 1-3 (math500)")
    ap.add_argument("--limit", type=int, default=None, help="the first N problems (after --ids/--levels)")
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--data-dir", default=None)
    ap.set_defaults(gsm8k_ids=gsm8k_ids)


def chosen_problems(args: argparse.Namespace) -> tuple[dict[str, Any], list[Example]]:
    """The eval settings every run on them shares, and the problems (checked before any model loads)."""
    if args.ids is None and args.levels is None and args.dataset == "gsm8k":
        args.ids = args.gsm8k_ids
    common = {"dataset": args.dataset, "ids": args.ids, "levels": args.levels, "limit": args.limit,
              "max_tokens": args.max_tokens, "data_dir": args.data_dir}
    return common, load_dataset(args.dataset, ids=args.ids, levels=args.levels, limit=args.limit,
                                data_directory=args.data_dir)


def run_baselines(common: dict[str, Any], directory: Path, wanted: set[str],
                  console: Console) -> dict[str, list[SampleRecord]]:
    """Draft alone and target alone on the problems (run or resumed): their samples, only those
    of ``wanted`` (a directory shared with a wider run may hold more)."""
    run_eval(load_config(None, {**common, "methods": ["draft", "target"], "output": str(directory)}),
             resume=True, console=console)
    return {m: [r for r in read_samples(directory / f"samples-{m}.jsonl") if r.id in wanted]
            for m in ("draft", "target")}
