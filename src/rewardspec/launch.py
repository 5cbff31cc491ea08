"""`rewardspec launch`: start the servers a setup needs, wait until they answer, run a command, stop them.

The reference implementation asks for three hand-started vLLM servers. Here one
file lists them (``servers:``, one entry per role): vLLM for HF models, with
GPU ids, memory fractions (so one GPU holds all three), tensor parallelism and
the pooling runner for a PRM; for GGUF models llama.cpp's own ``llama-server`` where one is
installed (``make llama-server`` builds it), else llama-cpp-python's server. We
start processes and pass settings on; tensor-parallel and multi-node serving
(Ray, ``distributed_executor_backend``) stay vLLM's, through ``extra_args``.

``launch`` runs the command after ``--`` while the servers are up and stops
them when it ends (or on Ctrl-C); with no command it keeps them up until
Ctrl-C. ``eval`` and ``serve`` never start servers themselves: a setup is
always two files, the servers' (``launch --config``) and the run's.
Values may name environment variables (``${MODEL_DIR}``), as in every config file.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rewardspec.settings import describe_problems
from rewardspec.config_files import read_settings
from rewardspec.errors import InvalidInputError, RewardspecError


class LaunchError(RewardspecError):
    """A server could not be started, or did not become healthy."""


class ServerSpec(BaseModel):
    """One server: which engine, which model, where, and the engine's own knobs."""

    model_config = ConfigDict(extra="forbid")

    engine: Literal["vllm", "llama.cpp"] = "vllm"
    server: Literal["auto", "llama-server", "llama-cpp-python"] = Field(
        "auto", description="llama.cpp: which server runs the GGUF. auto: llama.cpp's own llama-server where "
                            "one is installed ($REWARDSPEC_LLAMA_SERVER, PATH, `make llama-server`), "
                            "else llama-cpp-python's.")
    model: str = Field(min_length=1, description="HF directory or hub name (vllm); embedded name or .gguf (llama.cpp).")
    served_model_name: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    gpu_ids: str | None = Field(None, description="CUDA_VISIBLE_DEVICES for this server, e.g. '0' or '0,1,2,3'.")
    gpu_memory_utilization: float | None = Field(None, gt=0, le=1)
    tensor_parallel_size: int | None = Field(None, ge=1)
    max_model_len: int | None = Field(None, ge=16)
    dtype: str | None = None
    runner: Literal["generate", "pooling"] = "generate"
    convert: str | None = Field(None, description="vLLM --convert, e.g. classify for a Math-Shepherd PRM.")
    hf_overrides: dict | None = Field(None, description="vLLM --hf-overrides (JSON).")
    pooler_config: dict | None = None
    prefix_caching: bool = True
    n_ctx: int = Field(4096, ge=256, description="llama.cpp: context window.")
    n_threads: int | None = Field(None, ge=1, description="llama.cpp: CPU threads.")
    n_gpu_layers: int = Field(0, ge=-1, description="llama.cpp: layers on the GPU (-1: all).")
    flash_attn: bool | None = Field(None, description="llama.cpp: flash attention on or off (default: the "
                                                      "server's own, auto on llama-server, off on llama-cpp-python's; "
                                                      "off gives the in-process backend's numerics).")
    parallel: int | None = Field(None, ge=1, description="llama-server: slots decoding at once (-np; "
                                                          "default its own, 4). llama-cpp-python's has one.")
    python: str | None = Field(None, description="Interpreter to run the engine with (default: see LaunchConfig).")
    speculative_config: dict[str, Any] | None = Field(
        None, description="Token-level speculative decoding inside this server, passed to vLLM as "
                          "--speculative-config (e.g. {method: ngram, num_speculative_tokens: 4, "
                          "prompt_lookup_max: 4}, or {method: draft_model, model: ..., num_speculative_tokens: 4}); "
                          "llama.cpp: {method: ngram, num_speculative_tokens: N} (prompt lookup).")
    extra_args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _speculative(self) -> ServerSpec:
        """Speculation stacked under RSD: the target's rewrites (and a draft's steps) then run
        speculatively in the engine. Checked here so a typo fails before any server starts."""
        spec = self.speculative_config
        if spec is None:
            return self
        method = spec.get("method")
        if not isinstance(method, str) or not method:
            raise ValueError("speculative_config needs a method (vLLM: ngram, draft_model, eagle, ...)")
        k = spec.get("num_speculative_tokens")
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise ValueError(f"speculative_config.num_speculative_tokens must be a whole number >= 1; got {k!r}")
        if self.engine == "llama.cpp" and (method != "ngram" or set(spec) - {"method", "num_speculative_tokens"}):
            raise ValueError("llama.cpp's server speculates only by prompt lookup: write speculative_config as "
                             "{method: ngram, num_speculative_tokens: N}")
        if self.runner == "pooling":
            raise ValueError("a pooling server (a PRM) generates nothing to speculate on; drop speculative_config")
        return self

    @model_validator(mode="after")
    def _llama_cpp_only(self) -> ServerSpec:
        if self.engine != "llama.cpp" and (self.server != "auto" or self.parallel is not None):
            raise ValueError("server and parallel are llama.cpp settings; vLLM takes its own through extra_args")
        if self.server == "llama-cpp-python" and self.parallel not in (None, 1):
            raise ValueError("llama-cpp-python's server decodes one request at a time: drop parallel, "
                             "or use server: llama-server")
        return self

    def llama_server(self) -> Path | None:
        """The llama-server binary this spec runs on, or None for llama-cpp-python's server."""
        if self.engine != "llama.cpp" or self.server == "llama-cpp-python":
            return None
        from rewardspec.llama_server import ENV, find_llama_server

        found = find_llama_server()
        if found is None and self.server == "llama-server":
            raise LaunchError(f"server: llama-server, but none is installed: build it with `make llama-server`, "
                              f"put llama-server on PATH, or name it in ${ENV}")
        if found is None and self.parallel not in (None, 1):
            raise LaunchError(f"parallel: {self.parallel} needs llama-server, and none is installed (llama-cpp-python's "
                              f"server decodes one request at a time): build it with `make llama-server`, or drop parallel")
        return found

    def runs_on(self) -> str:
        """vllm, llama-server or llama-cpp-python."""
        if self.engine == "vllm":
            return "vllm"
        return "llama-cpp-python" if self.llama_server() is None else "llama-server"

    @property
    def name(self) -> str:
        return self.served_model_name or self.model

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"


class LaunchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    servers: dict[str, ServerSpec] = Field(min_length=1)
    log_dir: str = "runs/launch"
    startup_timeout_s: float = Field(900, gt=0)
    vllm_python: str | None = Field(None, description="Python with vLLM (default $REWARDSPEC_VLLM_PYTHON, "
                                                      "else this interpreter).")

    @field_validator("servers")
    @classmethod
    def _distinct_ports(cls, servers: dict[str, ServerSpec]) -> dict[str, ServerSpec]:
        seen: dict[tuple[str, int], str] = {}
        for role, spec in servers.items():
            other = seen.setdefault((spec.host, spec.port), role)
            if other != role:
                raise ValueError(f"servers {other} and {role} both use {spec.host}:{spec.port}")
        return servers


def load_launch_config(path: str) -> LaunchConfig:
    data = read_settings(path, "launch config")  # ${NAME} expanded from the environment
    try:
        return LaunchConfig.model_validate(data)
    except ValidationError as exc:
        raise InvalidInputError(f"{path}: {describe_problems(exc)}") from None


def command_for(spec: ServerSpec, vllm_python: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that start ``spec``."""
    env = {**spec.env}
    if spec.gpu_ids is not None:
        env["CUDA_VISIBLE_DEVICES"] = spec.gpu_ids
    if spec.engine == "llama.cpp":
        from rewardspec.registry import resolve_gguf

        path, _ = resolve_gguf(spec.model)
        binary = spec.llama_server()
        if binary is not None:
            return llama_server_command(spec, binary, path) + spec.extra_args, env
        args = [spec.python or sys.executable, "-m", "llama_cpp.server", "--model", str(path),
                "--model_alias", spec.name, "--host", spec.host, "--port", str(spec.port),
                "--n_ctx", str(spec.n_ctx), "--n_gpu_layers", str(spec.n_gpu_layers),
                "--interrupt_requests", "false"]  # else a new request cuts the stream in progress
        if spec.n_threads:
            args += ["--n_threads", str(spec.n_threads)]
        if spec.flash_attn is not None:
            args += ["--flash_attn", str(spec.flash_attn).lower()]
        if spec.speculative_config is not None:
            args += ["--draft_model", "prompt-lookup-decoding", "--draft_model_num_pred_tokens",
                     str(spec.speculative_config.get("num_speculative_tokens", 10))]
        return args + spec.extra_args, env
    args = [spec.python or vllm_python, "-m", "vllm.entrypoints.openai.api_server", "--model", spec.model,
            "--served-model-name", spec.name, "--host", spec.host, "--port", str(spec.port)]
    for flag, value in (("--gpu-memory-utilization", spec.gpu_memory_utilization),
                        ("--tensor-parallel-size", spec.tensor_parallel_size),
                        ("--max-model-len", spec.max_model_len), ("--dtype", spec.dtype)):
        if value is not None:
            args += [flag, str(value)]
    if spec.hf_overrides:
        args += ["--hf-overrides", json.dumps(spec.hf_overrides, ensure_ascii=False)]
    if spec.runner == "pooling":
        args += ["--runner", "pooling"]
        if spec.convert:
            args += ["--convert", spec.convert]
        if spec.pooler_config:
            args += ["--pooler-config", json.dumps(spec.pooler_config)]
    elif spec.prefix_caching:
        args.append("--enable-prefix-caching")
    if spec.speculative_config is not None:
        args += ["--speculative-config", json.dumps(spec.speculative_config, ensure_ascii=False)]
    return args + spec.extra_args, env


def llama_server_command(spec: ServerSpec, binary: Path, gguf: Path) -> list[str]:
    """llama.cpp's llama-server. Its slots share one KV cache of ``n_ctx`` tokens (``--kv-unified``,
    so one request may use all of it, as on llama-cpp-python's server; without it each of N slots
    gets n_ctx/N), and each keeps its last prompt, so a chat's next step reads only what is new."""
    layers = "all" if spec.n_gpu_layers == -1 else str(spec.n_gpu_layers)  # its -1 means "auto"
    args = [str(binary), "--model", str(gguf), "--alias", spec.name, "--host", spec.host, "--port", str(spec.port),
            "--ctx-size", str(spec.n_ctx), "--kv-unified", "--n-gpu-layers", layers, "--no-webui"]
    if spec.n_threads:
        args += ["--threads", str(spec.n_threads)]
    if spec.parallel:
        args += ["--parallel", str(spec.parallel)]
    if spec.flash_attn is not None:
        args += ["--flash-attn", "on" if spec.flash_attn else "off"]
    if spec.speculative_config is not None:  # prompt lookup: a guess of M tokens after a matching n-gram
        args += ["--spec-type", "ngram-simple", "--spec-ngram-simple-size-m",
                 str(spec.speculative_config.get("num_speculative_tokens", 10))]
    return args


def port_taken(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return "".join(deque(fh, maxlen=lines))
    except OSError:
        return ""


class Servers:
    """The running servers of one config; a context manager that always stops them."""

    def __init__(self, config: LaunchConfig, console=None) -> None:
        self.config, self.console = config, console
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs = {role: Path(config.log_dir) / f"{role}.log" for role in config.servers}
        self.kinds: dict[str, str] = {}
        """Which server each role runs on: vllm, llama-server or llama-cpp-python."""

    def __enter__(self) -> Servers:
        try:
            self.start()
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        taken = [f"{role} ({s.host}:{s.port})" for role, s in self.config.servers.items() if port_taken(s.host, s.port)]
        if taken:
            raise LaunchError(f"port already in use: {', '.join(taken)}; stop what holds it or choose another port")
        vllm_python = self.config.vllm_python or os.environ.get("REWARDSPEC_VLLM_PYTHON") or sys.executable
        Path(self.config.log_dir).mkdir(parents=True, exist_ok=True)
        for role, spec in self.config.servers.items():
            args, env = command_for(spec, vllm_python)
            self.kinds[role] = spec.runs_on()
            log = open(self.logs[role], "w", encoding="utf-8")
            log.write(f"# {' '.join(args)}\n")
            log.flush()
            try:
                self.procs[role] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                                    env={**os.environ, **env}, start_new_session=True)
            except OSError as exc:
                raise LaunchError(f"{role}: cannot start {args[0]}: {exc.strerror or exc}") from None
            finally:
                log.close()

    def wait_healthy(self) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        deadline = time.monotonic() + self.config.startup_timeout_s
        pending = dict(self.config.servers)
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=self.console, transient=True) as progress:
            tasks = {role: progress.add_task(f"starting {role} ({self.kinds[role]}: {s.name}) on :{s.port}")
                     for role, s in pending.items()}
            while pending:
                for role, spec in list(pending.items()):
                    proc = self.procs[role]
                    if proc.poll() is not None:
                        raise LaunchError(f"{role} exited with code {proc.returncode} while starting{_other(spec, self.kinds[role])}; "
                                          f"last lines of {self.logs[role]}:\n{log_tail(self.logs[role])}")
                    if _healthy(spec):
                        progress.update(tasks[role], description=f"{role} ready")
                        del pending[role]
                if pending and time.monotonic() > deadline:
                    role = next(iter(pending))
                    raise LaunchError(f"{role} did not answer within {self.config.startup_timeout_s:g} s; "
                                      f"last lines of {self.logs[role]}:\n{log_tail(self.logs[role])}")
                time.sleep(0.5)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=10)


def _other(spec: ServerSpec, kind: str) -> str:
    """Where ``server: auto`` chose, a flag written for the other llama.cpp server fails: say which ran."""
    if spec.engine != "llama.cpp" or spec.server != "auto":
        return ""
    other = "llama-cpp-python" if kind == "llama-server" else "llama-server"
    return f" (server: auto ran it on {kind}; extra_args written for the other need server: {other})"


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """The server and its children (vLLM's engine core runs in a process of its own)."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _healthy(spec: ServerSpec) -> bool:
    try:
        return httpx.get(f"{spec.base_url}/models", timeout=2).status_code in (200, 401)
    except httpx.HTTPError:
        return False


def _exit_on_signal(signum, frame) -> None:
    """SIGTERM and SIGHUP unwind like Ctrl-C, so the servers are stopped, not orphaned
    (they run in sessions of their own; a process manager's stop sends SIGTERM). A second
    one is ignored, so it cannot cut the stopping short."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def launch(config_path: str, command: list[str], console=None) -> int:
    """Start every server, run ``command`` (or wait for Ctrl-C), stop them; the command's exit code."""
    config = load_launch_config(config_path)
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, _exit_on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return _launch(config, command, console)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _launch(config: LaunchConfig, command: list[str], console) -> int:
    with Servers(config, console) as servers:
        for role, spec in config.servers.items():
            message = f"{role}: {servers.kinds[role]} serving '{spec.name}' at {spec.base_url} (log {servers.logs[role]})"
            print(message, file=sys.stderr, flush=True)
        if not command:
            print("servers up; Ctrl-C stops them", file=sys.stderr, flush=True)
            while all(p.poll() is None for p in servers.procs.values()):
                time.sleep(1)
            dead = [r for r, p in servers.procs.items() if p.poll() is not None]
            raise LaunchError(f"{', '.join(dead)} stopped; last lines of {servers.logs[dead[0]]}:\n"
                              f"{log_tail(servers.logs[dead[0]])}")
        try:
            child = subprocess.Popen(command)
        except OSError as exc:
            raise LaunchError(f"cannot run {command[0]}: {exc.strerror or exc}") from None
        try:
            return child.wait()
        except BaseException:  # stopped ourselves: the command gets SIGTERM first, as we did
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
            raise
