"""Helpers for tests and benchmarks that run real local services: free ports, waiting for readiness."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")
LOGAI = str(Path(sys.executable).with_name("logai"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], T], timeout: float, every: float = 0.02) -> T | None:
    """`check()`'s first truthy answer within `timeout` seconds, asked every `every` seconds; None if none."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    return None


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


def baseline_command(checkout: Path, args: Sequence[str]) -> list[str]:
    """`logai ARGS` as an older checkout of logai runs it, in this environment (same Python, same libraries).
    `-P`: the working directory is not put before PYTHONPATH, where it would import this checkout's logai."""
    return ["env", f"PYTHONPATH={checkout}", sys.executable, "-P", "-c",
            "import sys; from logai.cli.main import cli; sys.exit(cli())", *args]


class ServeProcess:
    """`logai serve` in a process of its own on a free port, with `data_dir: <folder>/data` plus any YAML in
    `config`, and `args` after `serve` (a syslog port, files to ingest); `checkout`: an older logai's (a
    baseline). Ready to answer once constructed.
    Its output goes to `<folder>/serve.log` (a pipe nobody reads could fill and stall a chatty server)."""

    def __init__(self, folder: Path, config: str = "", args: Sequence[str] = (), checkout: Path | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data = folder / "data"
        self.log = folder / "serve.log"
        folder.mkdir(parents=True, exist_ok=True)
        config_file = folder / "logai.yaml"
        config_file.write_text(f"data_dir: {self.data}\n{config}")
        started = time.perf_counter()
        with self.log.open("wb") as output:
            command = ["--config", str(config_file), "serve", "--port", str(self.port), *args]
            self.proc = subprocess.Popen(baseline_command(checkout, command) if checkout else [LOGAI, *command],
                                         stdout=output, stderr=subprocess.STDOUT)
        try:
            wait_ready(self.base, self.proc)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}; its output:\n{self.log.read_text(errors='replace')[-4000:]}") from exc
        self.startup_s = time.perf_counter() - started

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)
