"""Helpers for tests that run `rewardspec serve` (or any server) as a subprocess on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(config: Path, port: int, **popen) -> subprocess.Popen:
    """`rewardspec serve --config CONFIG --port PORT`, returned once /health answers (or failed)."""
    proc = subprocess.Popen([sys.executable, "-m", "rewardspec", "serve", "--config", str(config),
                             "--port", str(port), "--log-level", "warning"],
                            stdout=popen.pop("stdout", subprocess.PIPE), stderr=subprocess.PIPE, text=True, **popen)
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "rewardspec serve did not come up"
        time.sleep(0.2)
