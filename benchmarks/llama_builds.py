"""Two llama.cpp builds side by side: decode and prefill tokens/s of each, in one run.

    .venv/bin/python benchmarks/llama_builds.py [--a portable] [--b auto] [--model qwen2.5-coder-0.5b]

``--a`` and ``--b`` are builds as the Makefile names them (``portable``, ``auto``) or
directories holding a llama-cpp-python wheel. Build the wheels first, e.g.
``make install LLAMA_BUILD=portable`` and ``make install``; each lands in
``~/.cache/rewardspec/wheels/llama-cpp-python-VERSION-KEY``. Each build's shared
libraries are unpacked and loaded through ``LLAMA_CPP_LIB_PATH`` in a process of its own;
the two alternate ``--repeats`` times, and the medians and the ratio b/a are printed.
Where both builds are the same key (a CPU with nothing beyond AVX2), there is nothing
to compare, and it says so.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSION = "0.3.36"
PROBE = r"""
import json, sys, time
from rewardspec.models import load_model
from rewardspec.models.base import SamplingParams
model = load_model(sys.argv[1])
llm = model.llm
prompt = llm.tokenize(("The history of the lighthouse. " * 40).encode(), add_bos=True)[:384]
llm.reset(); started = time.perf_counter(); llm.eval(prompt); prefill = len(prompt) / (time.perf_counter() - started)
chat = [{"role": "user", "content": "Write a long story about a storm at sea."}]
params = SamplingParams(max_tokens=128, separator="\x00", repetition_limit=0)
model.generate_step(chat, "", params)
started = time.perf_counter(); gen = model.generate_step(chat, "", params)
decode = gen.generated_tokens / (time.perf_counter() - started - (gen.prefill_seconds or 0.0))
print(json.dumps({"prefill": prefill, "decode": decode}))
"""


def wheel_dir(build: str) -> tuple[str, Path]:
    if build in ("auto", "portable"):
        key = subprocess.run([sys.executable, str(ROOT / "scripts" / "llama_build_flags.py"), build],
                             capture_output=True, text=True, check=True).stdout.split()[0]
        return key, Path.home() / ".cache" / "rewardspec" / "wheels" / f"llama-cpp-python-{VERSION}-{key}"
    return Path(build).name, Path(build)


def unpack(directory: Path, into: Path) -> Path:
    wheels = sorted(directory.glob("llama_cpp_python-*.whl"))
    if not wheels:
        sys.exit(f"no llama-cpp-python wheel in {directory}; build it first (see --help)")
    with zipfile.ZipFile(wheels[-1]) as archive:
        for name in archive.namelist():
            if name.startswith("llama_cpp/lib/"):
                archive.extract(name, into)
    return into / "llama_cpp" / "lib"


def run(lib: Path, model: str) -> dict:
    env = {**os.environ, "LLAMA_CPP_LIB_PATH": str(lib)}
    done = subprocess.run([sys.executable, "-c", PROBE, model], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"the build in {lib} failed to run:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", default="portable")
    ap.add_argument("--b", default="auto")
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--output", default="runs/llama_builds.json")
    args = ap.parse_args()
    (key_a, dir_a), (key_b, dir_b) = wheel_dir(args.a), wheel_dir(args.b)
    if dir_a == dir_b:
        print(f"both builds are '{key_a}' on this CPU: the same wheel, nothing to compare")
        return
    with tempfile.TemporaryDirectory() as tmp:
        libs = {key_a: unpack(dir_a, Path(tmp) / "a"), key_b: unpack(dir_b, Path(tmp) / "b")}
        runs: dict[str, list[dict]] = {key_a: [], key_b: []}
        for _ in range(args.repeats):
            for key, lib in libs.items():
                runs[key].append(run(lib, args.model))
    result = {key: {m: statistics.median(r[m] for r in rs) for m in ("prefill", "decode")} for key, rs in runs.items()}
    print(f"{'build':<40} {'prefill tok/s':>14} {'decode tok/s':>13}")
    for key, r in result.items():
        print(f"{key:<40} {r['prefill']:>14.1f} {r['decode']:>13.1f}")
    print(f"{key_b} ÷ {key_a}: prefill {result[key_b]['prefill'] / result[key_a]['prefill']:.2f}x, "
          f"decode {result[key_b]['decode'] / result[key_a]['decode']:.2f}x")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": args.model, "builds": result, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
