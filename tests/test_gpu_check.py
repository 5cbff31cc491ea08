"""benchmarks/gpu_check.py runs here on the CPU, so that the day a GPU is lent its minutes go
to the check itself, not to fixing the script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def test_the_gpu_check_passes_on_the_cpu_and_reports_every_family(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--timing-model", "tiny", "--reps", "1",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["failed"] == [] and set(report["checks"]) == {"float32", "bfloat16"}
    for dtype, checks in report["checks"].items():
        assert set(checks) == {"lm", "qwen-prm", "skywork-prm", "math-shepherd", "rlhflow", "orm"}
    exact = report["checks"]["float32"]
    assert exact["lm"]["max_logprob_diff"] < 1e-4 and exact["lm"]["checked_step_equals_step"]
    assert all(exact[f]["max_reward_diff"] < 1e-4 for f in exact if f != "lm")
    assert set(report["timings"]) == {"cpu float32", "cpu bfloat16"}
    assert all(t["decode_64"] > 0 for t in report["timings"].values())
    assert "prefill_512" in done.stdout and "FAILED" not in done.stdout


def test_without_a_gpu_the_check_says_so_in_one_line(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible here")
    done = subprocess.run([sys.executable, str(SCRIPT), "--device", "cuda", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "no CUDA device" in done.stdout and "Traceback" not in done.stderr
