"""Real peers of the alert tests and benchmark: Debian's Prometheus Alertmanager on a free port, and a
webhook receiver that fails its first N deliveries (a receiver that is down, then back)."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson

from pipelines.local_services import free_port

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
CONFIG = """route:
  receiver: blackhole
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: blackhole
"""


class Alertmanager:
    """`prometheus-alertmanager` with a do-nothing receiver, clustering off, its state under `folder`."""

    def __init__(self, folder: Path, port: int | None = None):
        if ALERTMANAGER is None:
            raise RuntimeError("prometheus-alertmanager is not installed (Debian package prometheus-alertmanager)")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "alertmanager.yml").write_text(CONFIG)
        self.folder, self.port = folder, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Alertmanager:
        self.proc = subprocess.Popen(
            [ALERTMANAGER, f"--config.file={self.folder / 'alertmanager.yml'}", f"--storage.path={self.folder}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
            stdout=(self.folder / "alertmanager.log").open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"alertmanager did not start: {(self.folder / 'alertmanager.log').read_text()[-2000:]}")

    def alerts(self, **labels: str) -> list[dict[str, Any]]:
        """Its active alerts (GET /api/v2/alerts), those carrying `labels` only."""
        found = httpx.get(f"{self.url}/api/v2/alerts", timeout=5).json()
        return [a for a in found if all(a["labels"].get(k) == v for k, v in labels.items())]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


class WebhookSink:
    """An HTTP receiver on a free port that answers 503 to its first `fail_first` POSTs, then 200, each after
    `delay_s` (a slow chat service); it keeps what it accepted as (headers, body) pairs."""

    def __init__(self, fail_first: int = 0, delay_s: float = 0.0):
        sink = self
        self.fail_first, self.attempts, self.delay_s = fail_first, 0, delay_s
        self.received: list[tuple[dict[str, str], bytes]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(sink.delay_s)
                sink.attempts += 1
                ok = sink.attempts > sink.fail_first
                if ok:
                    sink.received.append((dict(self.headers), body))
                self.send_response(200 if ok else 503)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def payloads(self) -> list[dict[str, Any]]:
        return [orjson.loads(body) for _, body in self.received]

    def stop(self) -> None:
        self.server.shutdown()
