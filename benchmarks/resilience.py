"""Two promises that must keep holding, checked with real processes on loopback.

    python benchmarks/resilience.py                 # both
    python benchmarks/resilience.py --only resume   # kill -9 an eval, --resume, count
    python benchmarks/resilience.py --only stream   # rounds of concurrent streams, server memory

``resume``: an eval of N GSM8K problems (tiny models) is killed with SIGKILL
once some samples are written, then rerun with ``--resume``; every problem
must be in the samples exactly once. ``stream``: ``rewardspec serve`` with the
tiny models takes ``--rounds`` rounds of ``--clients`` concurrent streaming
requests; it reports how many were answered and the server's resident memory
after each round (flat memory: nothing kept per request). Writes JSON with
``--json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "gsm8k.jsonl"


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def check_resume(problems: int, workdir: Path) -> dict:
    dataset = workdir / "gsm8k.jsonl"
    with open(DATA, encoding="utf-8") as src:
        dataset.write_text("".join(next(src) for _ in range(problems)), encoding="utf-8")
    out = workdir / "run"
    command = [sys.executable, "-m", "rewardspec", "eval", "--dataset", str(dataset), "--methods", "rsd",
               "--draft", "tiny", "--target", "tiny", "--reward", "likelihood", "--max-tokens", "48",
               "--output", str(out)]
    samples = out / "samples-rsd.jsonl"
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while proc.poll() is None and (not samples.exists() or len(samples.read_bytes().splitlines()) < 2):
        time.sleep(0.05)
    if proc.poll() is not None:
        raise SystemExit(f"the eval ended before it could be killed: {proc.stderr.read().decode()[-800:]}")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = len(samples.read_bytes().splitlines())
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True)
    ids = [json.loads(line)["id"] for line in samples.read_text(encoding="utf-8").splitlines()]
    return {"problems": problems, "samples_at_kill": before, "resume_rc": resumed.returncode,
            "samples": len(ids), "unique": len(set(ids)), "exactly_once": len(ids) == len(set(ids)) == problems}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _one_stream(client: httpx.AsyncClient, url: str, i: int) -> bool:
    body = {"model": "tiny-rsd", "stream": True, "max_tokens": 16, "seed": i,
            "messages": [{"role": "user", "content": f"What is {i} + {i}?"}]}
    async with client.stream("POST", url, json=body) as response:
        if response.status_code != 200:
            return False
        lines = [line async for line in response.aiter_lines() if line.startswith("data: ")]
    return bool(lines) and lines[-1] == "data: [DONE]"


async def _round(url: str, clients: int) -> int:
    async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=clients)) as client:
        results = await asyncio.gather(*(_one_stream(client, url, i) for i in range(clients)),
                                       return_exceptions=True)
    return sum(r is True for r in results)


def check_streams(rounds: int, clients: int, workdir: Path) -> dict:
    config = workdir / "serve.json"
    config.write_text(json.dumps({"draft": "tiny", "target": "tiny", "reward": "likelihood", "n_threads": 1,
                                  "n_ctx": 1024, "model_id": "tiny-rsd",
                                  "max_concurrent_requests": clients}))
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "rewardspec", "serve", "--config", str(config),
                             "--port", str(port), "--log-level", "warning"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not come up: {proc.stderr.read().decode()[-500:]}")
            time.sleep(0.2)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        answered, memory = [], [_rss_mib(proc.pid)]
        for _ in range(rounds):
            answered.append(asyncio.run(_round(url, clients)))
            memory.append(round(_rss_mib(proc.pid), 1))
            print(f"round {len(answered)}: {answered[-1]}/{clients} answered, server RSS {memory[-1]} MiB",
                  flush=True)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {"rounds": rounds, "clients": clients, "answered": sum(answered), "requests": rounds * clients,
            "per_round": answered, "rss_mib": memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("resume", "stream"))
    parser.add_argument("--problems", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "resume"):
            results["resume"] = check_resume(args.problems, Path(tmp))
            print("kill -9 then --resume:", results["resume"], flush=True)
        if args.only in (None, "stream"):
            results["stream"] = check_streams(args.rounds, args.clients, Path(tmp))
            print("streaming load:", {k: v for k, v in results["stream"].items() if k != "per_round"})
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
