"""Helpers for tests and benchmarks that run real local services: free ports, waiting for readiness."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(base_url: str, process: subprocess.Popen | None = None, timeout: float = 60.0) -> None:
    """Poll `<base_url>/readyz` until it answers 200; fail early if `process` exits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process is not None and process.poll() is not None:
            output = process.stdout.read() if process.stdout else b""
            raise RuntimeError(f"the server exited with {process.returncode}: {output!r}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{base_url} did not become ready in {timeout:.0f} s")
        time.sleep(0.2)
