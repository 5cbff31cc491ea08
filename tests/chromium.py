"""Headless Chromium driven over the DevTools protocol, for tests of pages in a real browser.

Chromium speaks the protocol over two pipes (``--remote-debugging-pipe``: it reads commands
on fd 3 and writes replies on fd 4, each message JSON ending in a NUL byte), so no websocket
library and no open port are needed. Debian's ``chromium`` package provides the browser;
:func:`chromium_or_skip` skips a test, saying why, where it is not installed.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

HANG_S = 60.0
"""How long one protocol reply may take before it counts as a hang (two busy cores included)."""
NOT_INSTALLED = ("headless Chromium is not installed: apt-get install chromium (Debian's package; "
                 ".ci/run installs it when it runs as root)")


def chromium_path() -> str | None:
    return os.environ.get("REWARDSPEC_CHROMIUM") or shutil.which("chromium")


def chromium_or_skip() -> str:
    path = chromium_path()
    if path is None:
        pytest.skip(NOT_INSTALLED)
    return path


FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
         "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe")
"""Headless, offline and quiet; --no-sandbox because tests may run as root in a container."""
_ON_FDS_3_AND_4 = """
import fcntl, os, sys
r, w = (fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3])  # out of 3 and 4's way first
os.dup2(r, 3)
os.dup2(w, 4)
os.execv(sys.argv[3], sys.argv[3:])
"""


class Browser:
    """One headless Chromium with one page; collects console errors and uncaught exceptions."""

    def __init__(self, profile: Path, width: int = 1280, height: int = 900) -> None:
        executable = chromium_or_skip()
        self._log = profile / "chromium.log"  # a file, not a pipe: a full pipe would stall Chromium
        profile.mkdir(parents=True, exist_ok=True)
        commands_r, self._commands = os.pipe()
        self._replies, replies_w = os.pipe()
        # A small Python puts the pipes on fds 3 and 4, where Chromium looks for them, and execs
        # it (a preexec_fn would be unsafe in a test process with threads; sh takes no fd above 9).
        with self._log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _ON_FDS_3_AND_4, str(commands_r), str(replies_w), executable, *FLAGS,
                 f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, pass_fds=(commands_r, replies_w))
        os.close(commands_r)
        os.close(replies_w)
        self._buffer, self._next_id, self.events = b"", 0, []
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=True)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=True)

    # -- the protocol ------------------------------------------------------------------
    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            assert left > 0, "Chromium did not answer (a hang?)"
            ready, _, _ = select.select([self._replies], [], [], left)
            if ready:
                chunk = os.read(self._replies, 1 << 20)
                assert chunk, f"Chromium exited: {self._stderr()}"
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict[str, Any] | None = None, session: bool = False) -> dict[str, Any]:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + HANG_S
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self._next_id:
                assert "error" not in reply, f"{method}: {reply['error']}"
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for_event(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + HANG_S
        for seen in self.events:
            if seen["method"] == method:
                self.events.remove(seen)
                return seen
        while True:
            event = self._message(deadline)
            if event.get("method") == method:
                return event
            self.events.append(event)

    # -- what tests do -----------------------------------------------------------------
    def open(self, url: str) -> None:
        """Load ``url`` afresh and wait for its load event (the page's script has run by then).
        Going by about:blank makes every load a new document: from the same page with another
        #fragment, Chromium would only scroll."""
        for address in ("about:blank", url):
            self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
            assert "loaderId" in self.send("Page.navigate", {"url": address}, session=True)
            self.wait_for_event("Page.loadEventFired")

    def js(self, expression: str) -> Any:
        """The value of ``expression`` in the page; an exception in it fails the test."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, session=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait_for(self, expression: str) -> Any:
        """Poll ``expression`` until it is truthy (events such as "toggle" run after the click
        returns); its value."""
        deadline = time.monotonic() + HANG_S
        while not (value := self.js(expression)):
            assert time.monotonic() < deadline, f"never true: {expression}"
            time.sleep(0.02)
        return value

    def click(self, selector: str) -> None:
        """A real mouse click (pressed and released) at the middle of the element ``selector`` names."""
        box = self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
                      "e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect(); "
                      "return [r.left + r.width / 2, r.top + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left",
                                                   "clickCount": 1}, session=True)

    def type(self, selector: str, text: str) -> None:
        """Focus ``selector`` and type ``text`` into it as a keyboard would (input events fire)."""
        self.js(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", {"text": text}, session=True)

    def screenshot(self) -> bytes:
        return base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"}, session=True)["data"])

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and browser log errors (a CSP violation is one) so far."""
        self.js("0")  # collect what the page logged up to now
        found = []
        for e in self.events:
            params = e.get("params", {})
            if e.get("method") == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
            elif e.get("method") == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                found.append(details.get("exception", {}).get("description") or details.get("text", "?"))
            elif e.get("method") == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                found.append(params["entry"].get("text", "?"))
        return found

    def _stderr(self) -> str:
        self.proc.kill()
        self.proc.wait()
        return self._log.read_text(errors="replace")[-2000:]

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (AssertionError, OSError):
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._commands)
        os.close(self._replies)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def visible_ids(browser: Browser) -> list[str]:
    """The ids of the report's question rows a user can see now."""
    return browser.js("Array.from(document.querySelectorAll('details.q'))"
                      ".filter(e => !e.hidden && e.offsetParent !== null).map(e => e.dataset.id)")


def assert_not_blank(png: bytes, width: int, height: int) -> None:
    """A screenshot of a rendered page: the size asked for, many colours, and not mostly one."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (width, height), image.size
    colours = image.getcolors(maxcolors=width * height)
    commonest = max(count for count, _ in colours)
    assert len(colours) > 50, f"only {len(colours)} colours: a blank page?"
    assert commonest < 0.97 * width * height, "one colour covers almost all of the screenshot: a blank page?"
