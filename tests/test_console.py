"""The web console at `/`: served offline by the same process, a client of the public API only; and, in a real
browser (Playwright with Debian's Chromium), every page renders without console errors, a search narrows the
events, a correction changes the next verdict, and API keys are asked for and enforced."""

from __future__ import annotations

import gzip
import re
import shutil

import httpx
import pytest
from fastapi.testclient import TestClient

from logai.api.app import create_app
from logai.config import ApiConfig, Settings
from logai.console import STATIC
from pipelines.local_services import ServeProcess
from tests.conftest import EXAMPLE

KEY = "console-test-key-0001"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAGES = ["#/", "#/incidents", "#/verdicts", "#/templates", "#/events", "#/settings"]


def test_console_is_served_offline_and_small(tmp_path):
    settings = Settings(data_dir=tmp_path, api=ApiConfig(api_keys=[KEY]))
    settings.route.ingest_task = None
    with TestClient(create_app(settings)) as client:
        page = client.get("/")
        assert page.status_code == 200 and "<nav" in page.text and "/console/console.js" in page.text
        for asset in ("console.js", "console.css"):
            assert client.get(f"/console/{asset}").status_code == 200
        assert client.get("/v1/config").status_code == 401  # the page is open, the data is not
        config = client.get("/v1/config", headers={"X-API-Key": KEY}).json()
        assert config["api"]["api_keys"] == ["***"] and config["store"]
        key = {"X-API-Key": KEY}  # the tail is a stream (not fuzzed); its bad parameters are refused at once
        assert client.get("/v1/tail", params={"every_s": 0}, headers=key).status_code == 422
        assert client.get("/v1/tail", params={"q": "x" * 600}, headers=key).status_code == 422
        assert client.get("/v1/timeline", params={"minutes": 44640, "step": 1}, headers=key).status_code == 422
        assert client.get("/v1/timeline", params={"end": "nan"}, headers=key).status_code == 422
    shipped = b"".join(path.read_bytes() for path in STATIC.iterdir())
    assert not re.search(rb"https?://(?!127\.0\.0\.1)", shipped), "no CDN or remote asset"
    assert len(gzip.compress(shipped)) < 300 * 1024


def _browser():
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install "
                                                                   "'logai[dev]')")
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (make peers installs it)")
    return playwright


def test_pages_search_and_feedback_in_a_real_browser(tmp_path):
    sync_api = _browser()
    server = ServeProcess(tmp_path, "route:\n  llm: false\n", args=["--ingest", str(EXAMPLE)])
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            template_id = httpx.get(f"{server.base}/v1/templates?limit=1", timeout=10).json()["templates"][0][
                "template_id"]
            incident_id = httpx.get(f"{server.base}/v1/incidents", timeout=10).json()["items"][0]["id"]
            for route in [*PAGES, f"#/templates/{template_id}", f"#/incidents/{incident_id}", "#/templates?show=recent",
                          "#/templates?show=new", "#/templates?show=changed"]:
                page.goto(f"{server.base}/{route}")
                page.wait_for_selector("main h1")
                assert page.locator("main h1").inner_text() != "Error", route
            assert not errors, errors
            page.goto(f"{server.base}/#/")
            page.wait_for_selector("svg.chart polyline")  # the last hour of data, drawn
            abnormal = httpx.get(f"{server.base}/v1/stats", timeout=10).json()["abnormal_verdicts"]
            card = page.locator(".card", has_text="abnormal verdicts").inner_text()
            assert abnormal > 0 and card.split()[-1] == str(abnormal)  # the verdicts' own count, not the detectors'
            assert page.locator("svg.chart polyline.s-abnormal").count() == 1
            # the latest abnormal verdicts can be corrected where they are shown
            assert page.locator("button[data-action=correct][data-label=normal]").count() > 0
            page.click("a.card:has-text('abnormal verdicts')")  # a count opens the page that lists it
            page.wait_for_selector("main h1:text('Verdicts')")
            assert page.locator("select[name=label]").input_value() == "abnormal"
            page.goto(f"{server.base}/#/incidents/{incident_id}")
            page.wait_for_selector("svg.chart polyline")  # the incident's timeline
            assert "Affected: payments-api.log" in page.locator("main p").first.inner_text()  # its summary's
            timeouts = next(i for i in httpx.get(f"{server.base}/v1/incidents", timeout=10).json()["items"]
                            if "SocketTimeoutException" in i["summary"]["title"])
            page.goto(f"{server.base}/#/incidents/{timeouts['id']}")
            # the page drawn is this incident's (the one before was an incident page too), then its steps: the
            # stack traces' frame first, the template id a link
            page.wait_for_selector(f"main h1:has-text('Incident #{timeouts['id']} ')")
            assert page.locator("ul.next-steps li").first.inner_text().startswith(
                "Read the code at c.e.payments.InventoryClient.reserve(InventoryClient.java:")
            page.click("ul.next-steps a[href^='#/events?template_id=']")
            page.wait_for_selector("main h1:text('Events')")
            assert page.locator("input[name=template_id]").input_value() == timeouts["first_template_id"]
            page.goto(f"{server.base}/#/templates")
            page.wait_for_selector("svg.spark path")  # each template's counts, from one /v1/template-series call

            page.goto(f"{server.base}/#/events")
            page.wait_for_selector("#event-count")
            page.click("button[data-action=tail]")
            page.wait_for_selector("#live[data-open]", state="attached")  # the stream is open before the line is sent
            line = "2026-11-24 09:30:00,000 ERROR [exec-9] c.e.payments.Tail - posted after the page opened"
            httpx.post(f"{server.base}/v1/ingest?source=payments-api.log", content=line.encode(),
                       timeout=60).raise_for_status()
            page.wait_for_selector("tr.live-row:has-text('posted after the page opened')", timeout=15_000)
            page.click("button[data-action=tail]")  # pause
            assert page.locator("button[data-action=tail]").inner_text() == "Live tail"

            page.goto(f"{server.base}/#/events")
            page.wait_for_selector("#event-count")
            everything = page.locator("main tbody tr").count()
            page.fill("input[name=q]", "SocketTimeoutException")
            page.press("input[name=q]", "Enter")  # the keyboard submits the search
            page.wait_for_function("location.hash.includes('q=')")
            page.wait_for_selector("#event-count")
            # the search's rows replace the page's (under load, after the hash has changed)
            page.wait_for_function("n => document.querySelectorAll('main tbody tr').length < n", arg=everything)
            narrowed = page.locator("main tbody tr").count()
            assert 0 < narrowed < everything
            assert all("SocketTimeoutException" in t for t in page.locator("main tbody td.mono").all_inner_texts()[::2])
            page.goto(f"{server.base}/#/events?start=2026-11-24T09:17:00&end=2026-11-24T09:18:00")  # browser time: UTC
            page.wait_for_selector("#event-count")
            in_window = page.locator("main tbody tr").count()
            assert 0 < in_window < everything

            # a slow page left behind must not overwrite the page navigated to: hold the events page's
            # answer until the verdicts page is drawn, then let it through
            held: list = []
            page.route("**/v1/events?*", lambda route: route.continue_() if held else held.append(route))
            page.goto(f"{server.base}/#/events?level=ERROR")
            while not held:
                page.wait_for_timeout(50)
            page.goto(f"{server.base}/#/verdicts?label=abnormal")
            page.wait_for_selector("main h1:text('Verdicts')")
            with page.expect_response("**/v1/events?*"):
                held[0].continue_()
            page.unroute("**/v1/events?*")
            page.wait_for_timeout(1000)  # the events page's answer has been handled by now
            assert page.locator("main h1").inner_text() == "Verdicts"
            button = page.locator("tr:has-text('declined') button[data-action=correct][data-label=normal]").first
            row = button.locator("xpath=ancestor::tr")
            analysis_id = int(row.get_attribute("data-analysis"))
            declined = next(i for i in httpx.get(f"{server.base}/v1/incidents", timeout=10).json()["items"]
                            if "declined" in i["summary"]["title"])
            button.click()
            page.wait_for_selector("text=corrected to")
            # the declines were the paged incident's only verdicts, and are all judged normal now (the other users'
            # lines too, through the re-fit head): the incident is linked beside the button as resolved
            page.wait_for_selector(f"span.cleared a[href='#/incidents/{declined['id']}']")
            same = page.locator("tr[data-analysis]").evaluate_all(  # rows on the corrected row's input
                "(rows, id) => { const r = rows.find((x) => x.dataset.analysis === String(id));"
                " return rows.filter((x) => x.dataset.task === r.dataset.task"
                " && x.dataset.input === r.dataset.input).length; }", analysis_id)
            assert same >= 2 and page.locator("tr:has-text('corrected to')").count() == same  # each says so
            stored = httpx.get(f"{server.base}/v1/analyses?limit=500", timeout=10).json()["analyses"]
            corrected = next(a for a in stored if a["id"] == analysis_id)
            # the corrected verdict's own line, sent again (another line of its template may name another user,
            # which the small model reads, so it would be another input)
            raw = next(e["raw"] for e in httpx.get(f"{server.base}/v1/events", params={
                "template_id": corrected["provenance"]["template_id"], "limit": 500}, timeout=10).json()["events"]
                if e["id"] == corrected["event_id"])
            httpx.post(f"{server.base}/v1/ingest", content=raw.encode(),  # (httpx's params replace a URL's query)
                       params={"source": "payments-api.log", "idempotency_key": "console-test-again"},
                       timeout=60).raise_for_status()
            newest = httpx.get(f"{server.base}/v1/analyses?limit=1", timeout=10).json()["analyses"][0]
            assert newest["provenance"]["input"] == corrected["provenance"]["input"]
            assert newest["label"] == "normal"  # the correction decides the next verdict on that input
            page.goto(f"{server.base}/#/verdicts")  # drawn anew: the correction in force is read from /v1/feedback
            row = f"tr[data-analysis='{newest['id']}']"
            page.locator(f"{row} button[data-action=undo]").click()
            page.wait_for_selector(f"{row} button[data-action=correct]")  # undone: it can be corrected again
            in_force = httpx.get(f"{server.base}/v1/feedback", params={"active": "true"}, timeout=10).json()
            assert in_force["feedback"] == []

            # the timeouts were a false alarm: the person paged marks one of them normal on the incident's own page
            # (where the alert's link lands), and the page shows it resolved
            page.goto(f"{server.base}/#/incidents/{timeouts['id']}")
            page.wait_for_selector(f"main h1:has-text('Incident #{timeouts['id']} ')")
            sample = "tr:has-text('SocketTimeoutException')"
            page.locator(f"{sample} button[data-action=correct][data-label=normal]").first.click()
            page.wait_for_selector("span.resolution")
            assert page.locator("span.resolution").inner_text() == (
                "resolved: every verdict in it corrected to normal by console")
            assert page.locator(f"{sample}:has-text('corrected to')").count() > 0
            browser.close()
    finally:
        server.stop()


def test_the_console_asks_for_the_api_key(tmp_path):
    sync_api = _browser()
    server = ServeProcess(tmp_path, f"api:\n  api_keys: [{KEY}]\nroute:\n  llm: false\n")
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(f"{server.base}/#/settings")
            page.wait_for_selector("#key-dialog[open]")
            page.fill("#key-input", KEY)
            page.press("#key-input", "Enter")
            page.wait_for_selector("main h1:text('Settings')")
            assert KEY not in page.url and "***" in page.locator("pre").inner_text()
            browser.close()
    finally:
        server.stop()
