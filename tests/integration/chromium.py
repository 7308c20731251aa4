"""Headless Chromium from the machine's packages (Debian's ``chromium``; ``make test`` installs
it), driven over the Chrome DevTools Protocol on a websocket: no driver binary, no browser
download. Enough for the dashboard's browser tests: navigate, evaluate JavaScript, wait for a
condition in the page, take screenshots."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Self

from websockets.sync.client import ClientConnection, connect

START_S = 30.0
CALL_S = 30.0


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(
        "no Chromium on PATH: install the machine's package (Debian: apt-get install -y "
        "chromium; make test does this: scripts/ensure-chromium)"
    )


class Chromium:
    """One headless browser with one page; a context manager that always stops the browser."""

    def __init__(self, profile: Path, width: int = 1440, height: int = 1400) -> None:
        self.profile = profile
        self.size = (width, height)
        self.proc: subprocess.Popen[str] | None = None
        self.ws: ClientConnection | None = None
        self.output: list[str] = []
        self._ids = itertools.count(1)
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Self:
        argv = [
            chromium_binary(),
            "--headless=new",
            "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1",
            f"--user-data-dir={self.profile}",
            "--no-sandbox",  # tests run as root in CI
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            f"--window-size={self.size[0]},{self.size[1]}",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        try:
            port = self._devtools_port()
            self.ws = self._stack.enter_context(
                connect(self._page_socket(port), max_size=None, open_timeout=START_S)
            )
            self.call("Page.enable")
            self.call("Runtime.enable")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self._stack.close()
        self.ws = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def _devtools_port(self) -> int:
        """The port Chromium prints on stderr once DevTools listens; its stderr is then drained
        by a thread (kept for failure messages)."""
        assert self.proc is not None and self.proc.stderr is not None
        stderr = self.proc.stderr
        found: list[int] = []
        ready = threading.Event()

        def drain() -> None:
            for line in stderr:
                self.output.append(line)
                m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
                if m and not found:
                    found.append(int(m.group(1)))
                    ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        if not ready.wait(START_S) or not found:
            raise RuntimeError(
                f"Chromium did not open DevTools within {START_S:g} s:\n{''.join(self.output)[-2000:]}"
            )
        return found[0]

    def _page_socket(self, port: int) -> str:
        deadline = time.monotonic() + START_S
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as resp:
                targets = json.loads(resp.read())
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                return str(pages[0]["webSocketDebuggerUrl"])
            if time.monotonic() > deadline:
                raise RuntimeError(f"Chromium opened no page within {START_S:g} s: {targets}")
            time.sleep(0.1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One DevTools command; its result (events that arrive meanwhile are dropped)."""
        assert self.ws is not None
        call_id = next(self._ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        deadline = time.monotonic() + CALL_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"DevTools {method}: no answer in {CALL_S:g} s")
            message = json.loads(self.ws.recv(timeout=left))
            if message.get("id") != call_id:
                continue
            if "error" in message:
                raise RuntimeError(f"DevTools {method}: {message['error']}")
            result: dict[str, Any] = message.get("result", {})
            return result

    def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        result = self.call(
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=await_promise,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise RuntimeError(f"JavaScript failed: {text}\n{expression}")
        return result.get("result", {}).get("value")

    def navigate(self, url: str, timeout: float = 30.0) -> None:
        """Open ``url`` and wait until the new document (not the old one) has loaded."""
        self.evaluate("window.__leaving = true")
        self.call("Page.navigate", url=url)
        self.wait_until(
            f"{url} loaded", "!window.__leaving && document.readyState === 'complete'", timeout
        )

    def wait_until(
        self, what: str, expression: str, timeout: float = 30.0, interval: float = 0.01
    ) -> Any:
        """The first truthy value of ``expression`` in the page, polled every ``interval``;
        fails after ``timeout`` naming ``what``."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout:g} s waiting for {what} in the page"
                )
            time.sleep(interval)

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        path.write_bytes(base64.b64decode(data["data"]))
        return path
