"""Writing a benchmark's report: `report.json` and `report.md` in one folder, and the table on stdout."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_report(out: Path, report: dict[str, Any], markdown: Callable[[dict[str, Any]], str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    text = markdown(report)
    (out / "report.md").write_text(text)
    print(text)
