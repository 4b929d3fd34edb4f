"""Screenshots of every console page (README), from a real `logai serve` with the example log ingested.

    python pipelines/screenshots.py --out docs/screenshots
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.local_services import ServeProcess  # noqa: E402

PAGES = {"overview": "#/", "incidents": "#/incidents", "verdicts": "#/verdicts?label=abnormal",
         "templates": "#/templates", "events": "#/events?q=SocketTimeoutException", "settings": "#/settings"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium is not installed (make peers installs it)")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server = ServeProcess(Path(tmp), "route:\n  llm: false\n",
                              args=["--ingest", str(ROOT / "examples" / "logs" / "payments-api.log")])
        try:
            first = httpx.get(f"{server.base}/v1/incidents?limit=500", timeout=10).json()["items"]
            pages = {**PAGES, "incident": f"#/incidents/{first[-1]['id']}"} if first else dict(PAGES)
            top = httpx.get(f"{server.base}/v1/templates?limit=1", timeout=10).json()["templates"]
            if top:
                pages["template"] = f"#/templates/{top[0]['template_id']}"
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                for name, route in pages.items():
                    page.goto(f"{server.base}/{route}")
                    page.wait_for_selector("main h1")
                    if name == "events":  # the search's first stack trace, opened
                        page.wait_for_selector("details.trace summary", timeout=15_000).click()
                    time.sleep(0.3)
                    page.screenshot(path=str(args.out / f"{name}.png"))
                    print(f"{args.out / name}.png")
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
