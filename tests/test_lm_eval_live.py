"""lm-evaluation-harness against `rewardspec serve`, as an evaluation user runs it: the
`local-chat-completions` model over a task YAML on a local JSONL file (no hub), 8 requests in
flight against 2 decoding slots, once for RSD and once for a baseline chosen by model id.

lm-eval lives in a virtualenv of its own (its pins are not ours), made by `make test` and named
by ``$REWARDSPEC_LM_EVAL``; without it this test is skipped with the reason."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from processes import free_port, start_serve, stop_serve

LM_EVAL = os.environ.get("REWARDSPEC_LM_EVAL", "")
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k.jsonl"
DOCS = 8

pytestmark = [pytest.mark.models, pytest.mark.timeout(900),
              pytest.mark.skipif(not Path(LM_EVAL).is_file(), reason="no lm-eval virtualenv (make test makes one)"),
              pytest.mark.skipif(not DATA.exists(), reason="needs ../shared/data/gsm8k.jsonl")]

TASK = """task: gsm8k_local
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{answer.split('####')[-1].strip()}}}}"
generation_kwargs:
  until: ["Question:"]
  max_gen_toks: 24
  do_sample: false
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""


def test_lm_eval_runs_to_the_end_for_rsd_and_a_baseline_with_eight_in_flight(tmp_path):
    data = tmp_path / "gsm8k-8.jsonl"
    data.write_text("".join(line for line in DATA.read_text().splitlines(keepends=True)[:DOCS]))
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "gsm8k_local.yaml").write_text(TASK.format(data=data))
    config = tmp_path / "serve.yaml"
    config.write_text("draft: tiny\ntarget: tiny\nreward: likelihood\nmax_concurrent_requests: 2\n"
                      "default_max_tokens: 24\n")
    port = free_port()
    server = start_serve(config, port)
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    try:
        for model in ("rsd", "rsd-target"):
            out = tmp_path / model
            done = subprocess.run(
                [LM_EVAL, "run", "--model", "local-chat-completions", "--tasks", "gsm8k_local",
                 "--include_path", str(tasks), "--apply_chat_template", "--log_samples", "--output_path", str(out),
                 "--model_args", f"model={model},base_url=http://127.0.0.1:{port}/v1/chat/completions,"
                                 "num_concurrent=8,max_retries=3,tokenized_requests=False"],
                capture_output=True, text=True, timeout=600, env=env)
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            samples = [json.loads(line) for p in out.rglob("samples_gsm8k_local*.jsonl")
                       for line in p.read_text().splitlines()]
            assert sorted(s["doc_id"] for s in samples) == list(range(DOCS))
            assert all(isinstance(s["resps"][0][0], str) for s in samples)
    finally:
        stop_serve(server)
