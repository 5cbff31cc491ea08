"""`rewardspec launch`: commands, configs, refusals; a live llama.cpp server started and stopped."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from rewardspec.eval.runner import load_config
from rewardspec.launch import LaunchConfig, LaunchError, Servers, command_for, load_launch_config

from processes import free_port

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TINY_ENV = {"RS_TINY_LOGS": "/tmp/logs", "RS_TINY_LM": "/m/lm", "RS_TINY_PRM": "/m/prm", "RS_TINY_ORM": "/m/orm",
            "RS_TINY_SHEPHERD": "/m/shepherd", "RS_TINY_LM_PORT": "8501", "RS_TINY_PRM_PORT": "8502",
            "RS_TINY_ORM_PORT": "8503", "RS_TINY_SHEPHERD_PORT": "8504", "RS_TINY_DATA": "/d/gsm8k.jsonl",
            "RS_TINY_OUT": "/tmp/out"}


@pytest.mark.parametrize("setup", sorted(p.name for p in CONFIGS.iterdir() if p.is_dir()))
def test_every_ready_config_loads(setup, monkeypatch):
    for name, value in TINY_ENV.items():
        monkeypatch.setenv(name, value)
    launch = load_launch_config(str(CONFIGS / setup / "launch.yaml"))
    for other in sorted((CONFIGS / setup).glob("*.yaml")):  # any further launch file loads too
        if other.name not in ("launch.yaml", "eval.yaml"):
            assert load_launch_config(str(other)).servers
    evaluation = load_config(str(CONFIGS / setup / "eval.yaml"), {})
    served = {(s.name, s.port) for s in launch.servers.values()}
    for role in ("draft", "target"):
        spec = getattr(evaluation, role)
        if spec.startswith("openai:"):  # every remote role points at a server this launch starts
            model, _, rest = spec[len("openai:"):].partition("@")
            for url in rest.split("?")[0].split(","):
                assert (model, int(url.rsplit(":", 1)[1].split("/")[0])) in served, (role, url)


def test_the_paper_triple_fits_one_gpu():
    config = load_launch_config(str(CONFIGS / "paper-qwen-math" / "launch.yaml"))
    assert {s.gpu_ids for s in config.servers.values()} == {"0"}
    assert sum(s.gpu_memory_utilization for s in config.servers.values()) <= 0.9


def test_vllm_commands_pass_the_settings_on():
    spec = LaunchConfig.model_validate({"servers": {"prm": {
        "model": "Qwen/Qwen2.5-Math-PRM-7B", "port": 8003, "gpu_ids": "1,2", "gpu_memory_utilization": 0.3,
        "tensor_parallel_size": 2, "max_model_len": 4096, "runner": "pooling",
        "pooler_config": {"step_tag_id": 151651}, "extra_args": ["--distributed-executor-backend", "ray"]}}}
    ).servers["prm"]
    args, env = command_for(spec, "/venv/bin/python")
    assert args[:3] == ["/venv/bin/python", "-m", "vllm.entrypoints.openai.api_server"]
    joined = " ".join(args)
    for part in ("--model Qwen/Qwen2.5-Math-PRM-7B", "--port 8003", "--gpu-memory-utilization 0.3",
                 "--tensor-parallel-size 2", "--max-model-len 4096", "--runner pooling",
                 '--pooler-config {"step_tag_id": 151651}', "--distributed-executor-backend ray"):
        assert part in joined
    assert "--enable-prefix-caching" not in args  # pooling: no generation, no prefix cache flag
    assert env == {"CUDA_VISIBLE_DEVICES": "1,2"}
    generate = LaunchConfig.model_validate({"servers": {"t": {"model": "m", "port": 1}}}).servers["t"]
    assert "--enable-prefix-caching" in command_for(generate, "py")[0]
    assert "--convert" not in joined and "--hf-overrides" not in joined


def test_a_math_shepherd_server_gets_convert_and_hf_overrides_as_json():
    spec = LaunchConfig.model_validate({"servers": {"prm": {
        "model": "peiyi9979/math-shepherd-mistral-7b-prm", "port": 8003, "runner": "pooling", "convert": "classify",
        "hf_overrides": {"classifier_from_token": ["▁-", "▁+"], "method": "no_post_processing"},
        "pooler_config": {"pooling_type": "STEP", "step_tag_id": 12902, "task": "token_classify"}}}}).servers["prm"]
    args, _ = command_for(spec, "py")
    assert args[args.index("--convert") + 1] == "classify"
    assert json.loads(args[args.index("--hf-overrides") + 1])["classifier_from_token"] == ["▁-", "▁+"]
    assert json.loads(args[args.index("--pooler-config") + 1])["pooling_type"] == "STEP"


def test_llama_cpp_commands_use_the_embedded_gguf_and_never_interrupt_streams():
    spec = LaunchConfig.model_validate({"servers": {"d": {"engine": "llama.cpp", "model": "tiny", "port": 9,
                                                          "n_threads": 1, "server": "llama-cpp-python"}}}).servers["d"]
    args, _ = command_for(spec, "unused")
    assert args[1:3] == ["-m", "llama_cpp.server"] and args[args.index("--model") + 1].endswith(".gguf")
    assert args[args.index("--interrupt_requests") + 1] == "false"


@pytest.fixture
def fake_llama_server(tmp_path, monkeypatch):
    binary = tmp_path / "llama-server"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.setenv("REWARDSPEC_LLAMA_SERVER", str(binary))
    return binary


def test_a_gguf_role_runs_on_llama_server_where_one_is_installed(fake_llama_server):
    spec = LaunchConfig.model_validate({"servers": {"d": {"engine": "llama.cpp", "model": "tiny", "port": 9,
                                                          "n_threads": 2, "parallel": 4, "n_ctx": 2048}}}).servers["d"]
    args, _ = command_for(spec, "unused")
    assert args[0] == str(fake_llama_server) and args[args.index("--model") + 1].endswith(".gguf")
    for flag, value in (("--alias", "tiny"), ("--port", "9"), ("--ctx-size", "2048"), ("--threads", "2"),
                        ("--parallel", "4"), ("--n-gpu-layers", "0")):
        assert args[args.index(flag) + 1] == value, flag
    assert "--interrupt_requests" not in args  # llama-server's slots never cut each other's streams
    assert "--kv-unified" in args and "--flash-attn" not in args  # one request may use all of n_ctx
    python = spec.model_copy(update={"server": "llama-cpp-python", "parallel": None})
    assert command_for(python, "unused")[0][1:3] == ["-m", "llama_cpp.server"]


def test_settings_spelt_differently_by_the_two_llama_cpp_servers(fake_llama_server):
    spec = LaunchConfig.model_validate({"servers": {"d": {"engine": "llama.cpp", "model": "tiny", "port": 9,
                                                          "n_gpu_layers": -1, "flash_attn": False}}}).servers["d"]
    args, _ = command_for(spec, "unused")
    assert args[args.index("--n-gpu-layers") + 1] == "all"  # llama-server's -1 is "auto"
    assert args[args.index("--flash-attn") + 1] == "off"
    python, _ = command_for(spec.model_copy(update={"server": "llama-cpp-python"}), "unused")
    assert python[python.index("--n_gpu_layers") + 1] == "-1" and python[python.index("--flash_attn") + 1] == "false"


def test_without_llama_server_auto_falls_back_and_asking_for_it_is_one_clear_error(monkeypatch):
    import rewardspec.llama_server as where

    monkeypatch.delenv("REWARDSPEC_LLAMA_SERVER", raising=False)
    monkeypatch.setattr(where.shutil, "which", lambda name: None)
    monkeypatch.setattr(where, "CACHE", Path("/nonexistent"))
    auto = LaunchConfig.model_validate({"servers": {"d": {"engine": "llama.cpp", "model": "tiny", "port": 9}}})
    assert command_for(auto.servers["d"], "unused")[0][1:3] == ["-m", "llama_cpp.server"]
    wanted = auto.servers["d"].model_copy(update={"server": "llama-server"})
    with pytest.raises(LaunchError, match="make llama-server"):
        command_for(wanted, "unused")
    with pytest.raises(LaunchError, match="parallel: 4 needs llama-server"):
        command_for(auto.servers["d"].model_copy(update={"parallel": 4}), "unused")
    monkeypatch.setenv("REWARDSPEC_LLAMA_SERVER", "/nonexistent/llama-server")
    with pytest.raises(Exception, match="REWARDSPEC_LLAMA_SERVER names /nonexistent/llama-server"):
        command_for(auto.servers["d"], "unused")


def test_speculation_inside_a_server_is_passed_to_its_engine():
    """RSD stacked with token-level speculation: the target's own server speculates."""
    config = load_launch_config(str(CONFIGS / "speculative-target" / "launch.yaml"))
    args, _ = command_for(config.servers["target"], "py")
    assert json.loads(args[args.index("--speculative-config") + 1]) == {
        "method": "ngram", "num_speculative_tokens": 4, "prompt_lookup_max": 4, "prompt_lookup_min": 2}
    assert all("--speculative-config" not in command_for(s, "py")[0]
               for role, s in config.servers.items() if role != "target")
    lookup = LaunchConfig.model_validate({"servers": {"t": {
        "engine": "llama.cpp", "model": "tiny", "port": 9, "server": "llama-cpp-python",
        "speculative_config": {"method": "ngram", "num_speculative_tokens": 6}}}}).servers["t"]
    args, _ = command_for(lookup, "unused")
    assert args[args.index("--draft_model") + 1] == "prompt-lookup-decoding"
    assert args[args.index("--draft_model_num_pred_tokens") + 1] == "6"


def test_prompt_lookup_on_llama_server_is_its_ngram_speculation(fake_llama_server):
    lookup = LaunchConfig.model_validate({"servers": {"t": {
        "engine": "llama.cpp", "model": "tiny", "port": 9,
        "speculative_config": {"method": "ngram", "num_speculative_tokens": 6}}}}).servers["t"]
    args, _ = command_for(lookup, "unused")
    assert args[args.index("--spec-type") + 1] == "ngram-simple"
    assert args[args.index("--spec-ngram-simple-size-m") + 1] == "6"


@pytest.mark.parametrize(("text", "needle"), [
    ("servers:\n  a: {model: m, port: 8001, speculative_config: {num_speculative_tokens: 4}}\n", "needs a method"),
    ("servers:\n  a: {model: m, port: 8001, speculative_config: {method: ngram, num_speculative_tokens: 0}}\n",
     "num_speculative_tokens"),
    ("servers:\n  a: {engine: llama.cpp, model: tiny, port: 8001, speculative_config: {method: draft_model}}\n",
     "prompt lookup"),
    ("servers:\n  a: {model: m, port: 8001, runner: pooling, speculative_config: {method: ngram}}\n",
     "pooling server"),
])
def test_bad_speculative_configs_fail_before_any_server_starts(tmp_path, text, needle):
    path = tmp_path / "launch.yaml"
    path.write_text(text)
    with pytest.raises(Exception, match=needle):
        load_launch_config(str(path))


@pytest.mark.parametrize(("text", "needle"), [
    ("servers: {}\n", "servers"),
    ("servers:\n  a: {model: m, port: 8001}\n  b: {model: n, port: 8001}\n", "both use 127.0.0.1:8001"),
    ("servers:\n  a: {model: m, port: 8001, colour: red}\n", "colour"),
    ("servers:\n  a: {model: m, port: 99999}\n", "port"),
    ("servers:\n  a: {model: '${RS_SURELY_UNSET}', port: 8001}\n", "RS_SURELY_UNSET is not set"),
    ("servers:\n  a: {engine: sglang, model: m, port: 8001}\n", "engine"),
    ("servers:\n  a: {model: m, port: 8001, parallel: 4}\n", "llama.cpp settings"),
    ("servers:\n  a: {engine: llama.cpp, model: tiny, port: 8001, server: llama-cpp-python, parallel: 4}\n",
     "one request at a time"),
])
def test_bad_launch_configs_are_one_line(tmp_path, text, needle):
    path = tmp_path / "launch.yaml"
    path.write_text(text)
    done = subprocess.run([sys.executable, "-m", "rewardspec", "launch", "--config", str(path), "--", "true"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and needle in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_taken_port_is_refused(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        config = LaunchConfig.model_validate({"log_dir": str(tmp_path), "servers": {
            "draft": {"engine": "llama.cpp", "model": "tiny", "port": port}}})
        with pytest.raises(LaunchError, match=f"port already in use: draft \\(127.0.0.1:{port}\\)"):
            with Servers(config):
                pass


def test_a_server_that_dies_while_starting_shows_its_log(tmp_path):
    config = LaunchConfig.model_validate({"log_dir": str(tmp_path), "startup_timeout_s": 60, "servers": {
        "draft": {"engine": "llama.cpp", "model": "tiny", "port": free_port(), "extra_args": ["--no-such-flag"]}}})
    with pytest.raises(LaunchError, match=r"(?s)draft exited with code \d+ while starting \(server: auto ran it on "
                                          r"llama-(server|cpp-python); extra_args written for the other.*no-such-flag"):
        with Servers(config):
            pass
    assert (tmp_path / "draft.log").exists()


@pytest.mark.models  # a llama.cpp server on the embedded GGUF
@pytest.mark.parametrize("server", [
    pytest.param("llama-server", marks=pytest.mark.skipif(
        not Path(os.environ.get("REWARDSPEC_LLAMA_SERVER", "")).is_file(), reason="no llama-server (make test builds one)")),
    "llama-cpp-python"])
def test_launch_runs_the_command_while_the_server_is_up_then_stops_it(tmp_path, server):
    port = free_port()
    config = tmp_path / "launch.json"
    config.write_text(json.dumps({"log_dir": str(tmp_path / "logs"), "servers": {
        "draft": {"engine": "llama.cpp", "server": server, "model": "tiny", "served_model_name": "tiny", "port": port,
                  "n_threads": 1, "n_ctx": 1024}}}))
    probe = (f"import httpx, sys; r = httpx.get('http://127.0.0.1:{port}/v1/models', timeout=5); "
             "sys.exit(0 if r.json()['data'][0]['id'] == 'tiny' else 3)")
    done = subprocess.run([sys.executable, "-m", "rewardspec", "launch", "--config", str(config), "--",
                           sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"draft: {server} serving 'tiny' at http://127.0.0.1:{port}/v1" in done.stderr
    with pytest.raises(httpx.TransportError):  # stopped once the command ended
        httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2)
    assert (tmp_path / "logs" / "draft.log").read_text().startswith("# ")
    failing = subprocess.run([sys.executable, "-m", "rewardspec", "launch", "--config", str(config), "--",
                              sys.executable, "-c", "raise SystemExit(7)"], capture_output=True, text=True,
                             timeout=300)
    assert failing.returncode == 7  # the command's own exit code


@pytest.mark.models  # a llama.cpp server on the embedded GGUF
def test_sigterm_to_launch_stops_the_servers_and_the_command(tmp_path):
    """A process manager stops launch with SIGTERM: nothing it started may outlive it."""
    port = free_port()
    config = tmp_path / "launch.json"
    config.write_text(json.dumps({"log_dir": str(tmp_path / "logs"), "servers": {
        "draft": {"engine": "llama.cpp", "model": "tiny", "port": port, "n_threads": 1, "n_ctx": 1024}}}))
    marker = tmp_path / "command-ran"
    termed = tmp_path / "command-got-sigterm"
    command = (f"import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: "
               f"(pathlib.Path({str(termed)!r}).write_text('term'), sys.exit(0))); "
               f"pathlib.Path({str(marker)!r}).write_text('up'); time.sleep(120)")
    launcher = subprocess.Popen([sys.executable, "-m", "rewardspec", "launch", "--config", str(config), "--",
                                 sys.executable, "-c", command], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert launcher.poll() is None, launcher.stderr.read()
            assert time.monotonic() < deadline, "the command never started"
            time.sleep(0.5)
        assert httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=5).status_code == 200
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if launcher.poll() is None:
            launcher.kill()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2)
    assert termed.exists(), "the command was killed without its SIGTERM"
    stray = subprocess.run(["pgrep", "-f", str(marker)], capture_output=True, text=True)
    assert stray.stdout.strip() == "", "the command outlived launch"
