"""Lower layers never import upper ones: the stages and the store know nothing of the HTTP API or the CLI,
the API knows nothing of the CLI, and the stages know nothing of the service that wires them. Read from the
source (ast), so an import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LOGAI = Path(__file__).resolve().parents[1] / "logai"
# what each folder (or module) must not import
FORBIDDEN = {
    "parsing": ("logai.api", "logai.cli", "logai.service", "logai.pipeline", "logai.bootstrap", "logai.doors",
                "logai.route", "logai.llm", "logai.slm", "logai.store"),
    "semantics": ("logai.api", "logai.cli", "logai.service", "logai.pipeline", "logai.bootstrap", "logai.doors",
                  "logai.route", "logai.llm", "logai.slm", "logai.store"),
    "detect": ("logai.api", "logai.cli", "logai.service", "logai.bootstrap", "logai.doors",
               "logai.store", "logai.incidents"),
    "slm": ("logai.api", "logai.cli", "logai.service", "logai.bootstrap", "logai.doors",
            "logai.route", "logai.incidents"),
    "llm": ("logai.api", "logai.cli", "logai.service", "logai.bootstrap", "logai.doors",
            "logai.route", "logai.incidents"),
    "route": ("logai.api", "logai.cli", "logai.bootstrap", "logai.doors", "logai.incidents"),
    "store": ("logai.api", "logai.cli", "logai.service", "logai.bootstrap", "logai.doors",
              "logai.route", "logai.incidents"),
    "doors": ("logai.api", "logai.cli", "logai.bootstrap", "logai.incidents"),
    "evaluation": ("logai.api", "logai.cli"),
    "incidents": ("logai.api", "logai.cli", "logai.service", "logai.bootstrap", "logai.doors"),
    "api": ("logai.cli",),
    "console": ("logai.api", "logai.cli", "logai.service", "logai.bootstrap", "logai.store", "logai.route"),
    "service.py": ("logai.api", "logai.cli", "logai.bootstrap"),
    "pipeline.py": ("logai.api", "logai.cli", "logai.service", "logai.bootstrap"),
    "bootstrap.py": ("logai.api", "logai.cli"),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_no_upward_imports(part: str) -> None:
    target = LOGAI / part
    files = [target] if target.suffix == ".py" else sorted(target.rglob("*.py"))
    assert files, part
    wrong = sorted(f"{path.relative_to(LOGAI)} imports {name}" for path in files for name in _imports(path)
                   if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[part]))
    assert not wrong, "\n".join(wrong)
