"""llama.cpp's own C++ ``llama-server`` on loopback, for the live tests. ``make test`` builds it
once (scripts/build_llama_server.py) and names it in ``$REWARDSPEC_LLAMA_SERVER``; without that
variable the tests that use this are skipped with the reason."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from processes import free_port, wait_for_http

BINARY = os.environ.get("REWARDSPEC_LLAMA_SERVER", "")
MARKS = [pytest.mark.models,
         pytest.mark.skipif(not Path(BINARY).is_file(), reason="no llama-server (make test builds one)")]


@contextmanager
def llama_server(gguf: Path, alias: str, *extra: str, slots: int = 1, port: int | None = None
                 ) -> Iterator[tuple[str, subprocess.Popen]]:
    """One server on ``gguf``, served as ``alias``; yields its base URL and process, kills it after."""
    port = port or free_port()
    log = tempfile.TemporaryFile()  # it logs every request: a pipe nobody reads would block it
    proc = subprocess.Popen([BINARY, "--model", str(gguf), "--alias", alias, "--host", "127.0.0.1",
                             "--port", str(port), "--ctx-size", str(2048 * slots), "--parallel", str(slots),
                             "--threads", "1", "--no-webui",
                             # llama-server turns flash attention on by default on CPU, llama-cpp-python
                             # off: near-ties then fall apart (0.05 in log-probability), so greedy steps
                             # are compared with the same attention kernel
                             "--flash-attn", "off", *extra], stdout=log, stderr=log)

    def output() -> str:
        log.seek(0)
        return log.read().decode(errors="replace")[-3000:]

    try:
        wait_for_http(f"http://127.0.0.1:{port}/v1/models", proc, "llama-server", output)
        yield f"http://127.0.0.1:{port}/v1", proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        log.close()
