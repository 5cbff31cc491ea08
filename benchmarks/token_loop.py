"""Our token loop against llama-cpp-python's own, per token, side by side in one run.

    .venv/bin/python benchmarks/token_loop.py [--lengths 32,160,480] [--repeats 5]

For each embedded model (two vocabularies: SmolLM2's 49k and Qwen2.5's 152k) and each
step length N, both loops write N tokens greedily from the same cached prompt on the
same llama.cpp context, alternating, ``--repeats`` times:

* ours: ``LlamaCppModel.generate_step`` (float32 log-probabilities of every token,
  incremental detokenization, the step cutter and loop guard);
* theirs: ``Llama.create_completion`` (llama.cpp's C sampler, no log-probabilities).

Printed: the median milliseconds per token of each and the ratio ours/theirs (target:
at most 1.00x at every length and vocabulary). The separator and loop guard are set
so that neither ends a step early; a step that stops on the end token is timed per
token all the same. Writes JSON to ``--output``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rewardspec.models import load_model
from rewardspec.models.base import SamplingParams

QUESTION = [{"role": "user", "content": "Write a long, detailed story about a lighthouse keeper and a storm."}]


def per_token(model, n: int, repeats: int) -> tuple[list[float], list[float]]:
    ours, theirs = [], []
    tokens = model._tokens(QUESTION, "")
    params = SamplingParams(max_tokens=n, separator="\x00never\x00", repetition_limit=0)
    model.generate_step(QUESTION, "", params)  # warm: the prompt is cached for both from here on
    for _ in range(repeats):
        started = time.perf_counter()
        gen = model.generate_step(QUESTION, "", params)
        ours.append((time.perf_counter() - started - (gen.prefill_seconds or 0.0)) / max(1, gen.generated_tokens))
        started = time.perf_counter()
        out = model.llm.create_completion(tokens, max_tokens=n, temperature=0.0, repeat_penalty=1.0)
        elapsed = time.perf_counter() - started
        theirs.append(elapsed / max(1, out["usage"]["completion_tokens"]))
    return ours, theirs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="smollm2-135m,qwen2.5-coder-0.5b")
    ap.add_argument("--lengths", default="32,160,480")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--output", default="runs/token_loop.json")
    args = ap.parse_args()
    console = Console()
    table = Table(title="ms per generated token, greedy, median of alternating runs")
    for col in ("model", "vocab", "tokens", "ours", "llama-cpp-python", "ours ÷ theirs"):
        table.add_column(col, justify="left" if col == "model" else "right")
    rows = []
    for name in args.models.split(","):
        model = load_model(name.strip())
        for n in (int(x) for x in args.lengths.split(",")):
            ours, theirs = per_token(model, n, args.repeats)
            a, b = statistics.median(ours), statistics.median(theirs)
            rows.append({"model": name, "vocab": model.n_vocab, "tokens": n, "ours_ms": a * 1e3,
                         "theirs_ms": b * 1e3, "ratio": a / b})
            table.add_row(name, f"{model.n_vocab:,}", str(n), f"{a * 1e3:.2f}", f"{b * 1e3:.2f}", f"{a / b:.3f}x")
    console.print(table)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
