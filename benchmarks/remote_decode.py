"""Decode speed of the HTTP backend against the in-process backend, same GGUF, side by side.

    python benchmarks/remote_decode.py [--tokens 160] [--repeats 5]

Starts llama-cpp-python's own server (``python -m llama_cpp.server``) on a
loopback port with the embedded SmolLM2-135M GGUF and the thread count as the in-process model,
then writes one long step (a separator that never occurs) greedily with each,
alternating, and prints the median tokens/s of each and their ratio. Run it
alone: on 2 cores the server and the in-process model would share them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from rewardspec.models import load_model  # noqa: E402
from rewardspec.models.base import SamplingParams  # noqa: E402

CHAT = [{"role": "user", "content": "Write a long story about a lighthouse keeper and a storm."}]


def tokens_per_second(model, tokens: int) -> float:
    sampling = SamplingParams(max_tokens=tokens, separator="<<never>>", repetition_limit=0)
    started = time.perf_counter()
    step = model.generate_step(CHAT, "", sampling)
    return step.generated_tokens / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=160)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from processes import free_port  # the tests' own support: a free port, and the server fixture
    from test_remote_live import start_server, stop

    port = free_port()
    proc = start_server(port)
    try:
        local = load_model("tiny", n_ctx=2048, n_threads=args.threads)
        remote = load_model(f"openai:tiny@http://127.0.0.1:{port}/v1")
        runs: dict[str, list[float]] = {"in-process": [], "http": []}
        tokens_per_second(local, 8), tokens_per_second(remote, 8)  # warm both
        for _ in range(args.repeats):
            runs["in-process"].append(tokens_per_second(local, args.tokens))
            runs["http"].append(tokens_per_second(remote, args.tokens))
    finally:
        stop(proc)
    medians = {k: statistics.median(v) for k, v in runs.items()}
    print(f"{args.tokens} tokens, greedy, {args.threads} thread(s), median of {args.repeats}:")
    for name, value in medians.items():
        print(f"  {name:>10}: {value:6.1f} tokens/s")
    print(f"  http / in-process: {medians['http'] / medians['in-process']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "medians": medians}, indent=2))


if __name__ == "__main__":
    main()
