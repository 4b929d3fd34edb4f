"""The web console: a page at `/` and its script and style under `/console/`, served by the same process.

It is a client of the public REST API only (it holds the API key in the tab's sessionStorage and sends it as
`X-API-Key`, never in a URL), written in plain JavaScript with no dependency to fetch at run time: nothing to
download, nothing from a CDN, and nothing to build.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")


def mount_console(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def console() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/console", StaticFiles(directory=STATIC), name="console")
