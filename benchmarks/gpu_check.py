"""The CUDA paths, checked against the CPU and timed side by side, with torch and transformers only.

    PYTHONPATH=src python benchmarks/gpu_check.py --device cuda --out "$OUT"    # on a lent GPU
    python benchmarks/gpu_check.py --device cpu --timing-model tiny            # in the suite

A lent machine has torch and transformers, and no vLLM, no model hub and no network, so
everything here is built on the spot (rewardspec.analysis.tiny_checkpoints): tiny random
checkpoints of the real architectures, a Qwen2 causal LM and every PRM family the transformers
rewards read (Qwen2.5-Math-PRM's Qwen2ForProcessRewardModel, Skywork's value head, Math-Shepherd's
Mistral, RLHFlow's Llama 3, a Llama sequence-classification ORM).

For each dtype (bfloat16, float16) it runs, on the device and on the CPU in float32:

* the transformers backend: the log-probabilities of a fixed continuation, a greedy step, and a
  greedy step that checks a proposal (rewrite reuse); log-probabilities must agree within the
  dtype's tolerance, and the steps are reported as equal or not (random tiny models have near
  ties, which a half-precision dtype may flip: reported, not failed);
* every PRM adapter: the reward of each step of a fixed solution, within the dtype's tolerance.

Then it times prefill, decode and PRM scoring on the device against the CPU, on a model of the
size ``--timing-model`` names (``qwen0.5b``: Qwen2.5-0.5B's shape with random weights), and
prints one table and writes gpu_check.json under ``--out``. Exit status 1 if a check failed.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # runnable without an install

TOLERANCE = {"float32": (1e-3, 1e-3), "bfloat16": (0.15, 0.1), "float16": (0.05, 0.03)}
"""Per dtype: (log-probability, reward) largest allowed difference from the CPU in float32."""
PRMS = {  # reward spec family: tiny checkpoint kind
    "qwen-prm": "qwen-prm", "skywork-prm": "skywork-prm", "math-shepherd": "math-shepherd",
    "rlhflow": "rlhflow", "orm": "orm",
}
QUESTION = "Janet has 16 eggs. She eats 3 for breakfast. How many eggs are left?"
STEPS = ["Step 1: Janet has 16 eggs.\n\n", "Step 2: She eats 3, so 16 - 3 = 13 eggs are left.\n\n",
         "The answer is \\boxed{13}."]
CHAT = [{"role": "user", "content": QUESTION}]
CONTINUATION = "First, 16 - 3 = 13. Then the answer is 13."
TIMING_SHAPES = {
    "tiny": {},
    "qwen0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                     num_key_value_heads=2, max_position_embeddings=4096),
}


def build(root: Path) -> dict[str, Path]:
    from rewardspec.analysis.tiny_checkpoints import BUILDERS

    kinds = {"causal-qwen2", *PRMS.values()}
    return {kind: _built(BUILDERS[kind], root / kind) for kind in sorted(kinds)}


def _built(builder, directory: Path) -> Path:
    builder(directory)
    return directory


def lm(directory: Path, device: str, dtype: str):
    from rewardspec.models.transformers_backend import TransformersModel

    return TransformersModel(str(directory), device=device, dtype=dtype)


def check_lm(directory: Path, device: str, dtype: str, reference) -> dict:
    from rewardspec.models.base import SamplingParams

    model = lm(directory, device, dtype)
    got = model.score_continuation(CHAT, "", CONTINUATION).token_logprobs
    worst = max(abs(a - b) for a, b in zip(got, reference["logprobs"]))
    greedy = SamplingParams(max_tokens=24, separator="\n")
    step = model.generate_step(CHAT, "", greedy)
    checked = model.generate_step(CHAT, "", SamplingParams(max_tokens=24, separator="\n", proposal=step.text))
    return {"max_logprob_diff": worst, "ok": worst <= TOLERANCE[dtype][0],
            "step_equals_cpu": step.text == reference["step"],
            "checked_step_equals_step": checked.text == step.text,
            "proposal_tokens_kept": (checked.lookahead.rewrite_accepted if checked.lookahead else 0)}


def check_prm(family: str, directory: Path, device: str, dtype: str, reference: list[float]) -> dict:
    from rewardspec.rewards import make_reward

    reward = make_reward(f"{family}:{directory}?device={device}&dtype={dtype}")
    got = [reward.score(QUESTION, STEPS[:i], STEPS[i]).value for i in range(len(STEPS))]
    worst = max(abs(a - b) for a, b in zip(got, reference))
    return {"max_reward_diff": worst, "ok": worst <= TOLERANCE[dtype][1], "rewards": got}


def references(paths: dict[str, Path]) -> dict:
    from rewardspec.models.base import SamplingParams
    from rewardspec.rewards import make_reward

    model = lm(paths["causal-qwen2"], "cpu", "float32")
    out = {"lm": {"logprobs": model.score_continuation(CHAT, "", CONTINUATION).token_logprobs,
                  "step": model.generate_step(CHAT, "", SamplingParams(max_tokens=24, separator="\n")).text}}
    for family, kind in PRMS.items():
        reward = make_reward(f"{family}:{paths[kind]}?device=cpu&dtype=float32")
        out[family] = [reward.score(QUESTION, STEPS[:i], STEPS[i]).value for i in range(len(STEPS))]
    return out


def timings(device: str, dtype: str, shape: str, root: Path, reps: int) -> dict:
    """Medians of prefill (one pass over 512 tokens), decode (a 64-token greedy step) and PRM
    scoring (a 3-step solution), in seconds, on ``device`` in ``dtype``."""
    import torch

    from rewardspec.analysis.tiny_checkpoints import build_causal_lm, build_qwen_prm, qwen_tokenizer
    from rewardspec.models.base import SamplingParams
    from rewardspec.rewards import make_reward

    lm_dir, prm_dir = root / f"timing-lm-{shape}", root / f"timing-prm-{shape}"
    if not lm_dir.exists():
        build_causal_lm(lm_dir, "qwen2", qwen_tokenizer(), **TIMING_SHAPES[shape])
        build_qwen_prm(prm_dir, **TIMING_SHAPES[shape])
    model = lm(lm_dir, device, dtype)
    vocab = model.model.config.vocab_size
    prompt = [3 + i % (vocab - 3) for i in range(512)]

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    def prefill() -> None:
        with torch.inference_mode():
            model.model(input_ids=torch.tensor([prompt], device=model.device), use_cache=False, logits_to_keep=1)
        sync()

    def decode() -> None:
        model._cache.clear()
        model.generate_step(CHAT, "", SamplingParams(max_tokens=64, separator="\x00", repetition_limit=0))
        sync()

    reward = make_reward(f"qwen-prm:{prm_dir}?device={device}&dtype={dtype}&cache_slots=1")

    def score() -> None:
        reward.score(QUESTION + f" ({time.perf_counter()})", STEPS[:2], STEPS[2])  # a new question: no cache
        sync()

    out = {}
    for name, fn in (("prefill_512", prefill), ("decode_64", decode), ("prm_score", score)):
        fn()  # warm-up: kernels, allocator
        runs = []
        for _ in range(reps):
            started = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - started)
        out[name] = statistics.median(runs)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (cpu checks the script itself)")
    parser.add_argument("--dtypes", default="bfloat16,float16")
    parser.add_argument("--timing-model", default="qwen0.5b", choices=sorted(TIMING_SHAPES))
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    import torch
    import transformers

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device is visible to torch; run with --device cpu to check the script itself")
        return 2
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    if args.device == "cpu":
        dtypes = ["float32"] + [d for d in dtypes if d == "bfloat16"]  # fp16 matmuls are slow or absent on CPUs
    report: dict = {"device": args.device, "torch": torch.__version__, "transformers": transformers.__version__,
                    "gpu": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else None,
                    "python": platform.python_version(), "tolerance": TOLERANCE, "checks": {}, "timings": {}}
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        root = Path(tmp)
        paths = build(root)
        ref = references(paths)
        for dtype in dtypes:
            checks = {"lm": check_lm(paths["causal-qwen2"], args.device, dtype, ref["lm"])}
            for family, kind in PRMS.items():
                checks[family] = check_prm(family, paths[kind], args.device, dtype, ref[family])
            report["checks"][dtype] = checks
        cpu = timings("cpu", "float32", args.timing_model, root, args.reps)
        report["timings"]["cpu float32"] = cpu
        for dtype in dtypes:
            report["timings"][f"{args.device} {dtype}"] = timings(args.device, dtype, args.timing_model, root, args.reps)
    failed = [f"{dtype} {name}" for dtype, checks in report["checks"].items()
              for name, c in checks.items() if not c["ok"]]
    report["failed"] = failed
    print(table(report))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out / 'gpu_check.json'}")
    return 1 if failed else 0


def table(report: dict) -> str:
    lines = [f"device {report['device']} ({report['gpu'] or 'no GPU'}), torch {report['torch']}, "
             f"transformers {report['transformers']}", "",
             f"{'check':<16}{'dtype':<10}{'max diff':>10}{'tolerance':>11}  result"]
    for dtype, checks in report["checks"].items():
        for name, c in checks.items():
            diff = c.get("max_logprob_diff", c.get("max_reward_diff"))
            tol = TOLERANCE[dtype][0 if name == "lm" else 1]
            extra = ""
            if name == "lm":
                extra = (f"  step {'=' if c['step_equals_cpu'] else '!='} cpu; with its own proposal "
                         f"{'same' if c['checked_step_equals_step'] else 'DIFFERENT'} ({c['proposal_tokens_kept']} kept)")
            lines.append(f"{name:<16}{dtype:<10}{diff:>10.4f}{tol:>11.3g}  {'ok' if c['ok'] else 'FAILED'}{extra}")
    lines += ["", f"{'timing (median s)':<22}" + "".join(f"{k:>16}" for k in ("prefill_512", "decode_64", "prm_score"))]
    cpu = report["timings"]["cpu float32"]
    for where, t in report["timings"].items():
        lines.append(f"{where:<22}" + "".join(f"{t[k]:>16.4f}" for k in ("prefill_512", "decode_64", "prm_score")))
        if where != "cpu float32":
            lines.append(f"{'  cpu ÷ ' + where:<22}" + "".join(f"{cpu[k] / t[k]:>15.1f}x" for k in
                                                               ("prefill_512", "decode_64", "prm_score")))
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
