"""`rewardspec serve` as a user runs it: a subprocess on a loopback port, a config file."""

from __future__ import annotations

import json
import subprocess
import sys

import openai
import pytest

from processes import free_port, start_serve, stop_serve


def test_a_bad_config_is_one_line_and_exit_2(tmp_path):
    config = tmp_path / "serve.yaml"
    config.write_text("draft: tiny\nmax_concurrent_requests: 0\n")
    proc = subprocess.run([sys.executable, "-m", "rewardspec", "serve", "--config", str(config)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "max_concurrent_requests" in lines[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.models  # serves the embedded GGUF
def test_serve_command_answers_the_openai_sdk(tmp_path):
    config = tmp_path / "serve.json"
    config.write_text(json.dumps({"draft": "tiny", "target": "tiny", "reward": "likelihood",
                                  "n_threads": 1, "n_ctx": 1024, "model_id": "tiny-rsd"}))
    port = free_port()
    proc = start_serve(config, port)
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none",
                               max_retries=0, timeout=120)
        assert [m.id for m in client.models.list().data][0] == "tiny-rsd"
        resp = client.chat.completions.create(
            model="tiny-rsd", max_tokens=3, seed=0,
            messages=[{"role": "system", "content": "Be brief."},
                      {"role": "user", "content": "Hi"}])
        assert resp.usage.completion_tokens <= 3 and resp.rsd["steps"]
    finally:
        err = stop_serve(proc)
    assert proc.returncode in (0, 130), err
    assert "127.0.0.1" in err and "Traceback" not in err
