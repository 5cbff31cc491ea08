"""Servers and ports for tests, in one place: a free loopback port, waiting for a condition,
`rewardspec serve` as a subprocess, and an ASGI app under a real uvicorn server in a thread.

Every wait here has a deadline, but only to turn a hang into a failure with a message: it is
generous, and no test asserts how long anything took.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

HANG_S = 120.0
"""How long a wait may last before it counts as a hang (a slow two-core machine included)."""


def free_port() -> int:
    """A loopback port that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition: Callable[[], object], what: str, timeout: float = HANG_S,
               alive: Callable[[], object] | None = None, interval: float = 0.02) -> None:
    """Poll ``condition`` until it is true. ``alive`` (if given) must stay true meanwhile: the
    thread or process that should bring the condition about has not died."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert alive is None or alive(), f"{what}: it died first"
        assert time.monotonic() < deadline, f"{what}: still not after {timeout:.0f} s (a hang?)"
        time.sleep(interval)


def wait_for_http(url: str, proc: subprocess.Popen, what: str, output: Callable[[], str],
                  statuses: tuple[int, ...] = (200,), timeout: float = HANG_S) -> None:
    """Wait until GET ``url`` answers with one of ``statuses``; fail with ``output()`` (the
    process's log) if ``proc`` exits first."""

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with code {proc.returncode}:\n{output()[-3000:]}")
        try:
            return httpx.get(url, timeout=1).status_code in statuses
        except httpx.TransportError:
            return False

    wait_until(up, f"{what} did not come up", timeout, interval=0.2)


def start_serve(config: Path, port: int, **popen) -> subprocess.Popen:
    """`rewardspec serve --config CONFIG --port PORT`, returned once /health answers."""
    proc = subprocess.Popen([sys.executable, "-m", "rewardspec", "serve", "--config", str(config),
                             "--port", str(port), "--log-level", "warning"],
                            stdout=popen.pop("stdout", subprocess.PIPE), stderr=subprocess.PIPE, text=True, **popen)
    wait_for_http(f"http://127.0.0.1:{port}/health", proc, "rewardspec serve", lambda: proc.communicate()[1])
    return proc


def stop_serve(proc: subprocess.Popen) -> str:
    """Stop a server from :func:`start_serve` as Ctrl-C would (killed if it hangs); its stderr."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=30)[1]
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()[1]


@contextmanager
def serve_app(app, **config) -> Iterator[str]:
    """``app`` under a real uvicorn server, in a thread, on a free loopback port; yields its URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # loopback only; the socket is handed over, so no port race
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, "uvicorn did not start", alive=thread.is_alive)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(HANG_S)
        sock.close()


# -- the command line as users run it ---------------------------------------------------
def run_cli(args: list[str], patch: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    """``rewardspec ARGS`` in a fresh interpreter (``patch``: code run first, e.g. to stub a loader)."""
    code = patch + "import sys; from rewardspec.cli import main; sys.argv = ['rewardspec'] + %r; main()" % (args,)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    """A user error: exit code 2 and one line on stderr naming the problem, no traceback."""
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err
