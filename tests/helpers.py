"""Small helpers the test packages share."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from oncoclass.history.testing import free_port


@contextmanager
def serve(app: FastAPI, *, start_timeout: float = 120) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port in a background thread; yields the
    base URL and stops the server (running the app's shutdown) afterwards."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


# ---- browser tests: Playwright driving Debian's chromium, never a downloaded browser ----------
CHROMIUM = Path("/usr/bin/chromium")
#: Where screenshots go (git-ignored).
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
#: A sandbox-free, offline chromium: no first-run, sync, update or other background traffic.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Marks of a test module that drives chromium: it skips, saying why, where chromium is absent.
NEEDS_CHROMIUM = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (apt-get install chromium)"
    ),
]
