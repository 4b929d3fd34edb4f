"""The import graph has no upward edges. Layers, lowest first:

  shared modules -> store -> stages -> pipeline -> service -> doors (in and out) -> bootstrap
  -> api, console, evaluation -> cli

A module may import its own layer and the layers below it, never one above. Read from the source (ast),
so an import inside a function counts too; imports only for type checking (`if TYPE_CHECKING:`) count
as well."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LOGAI = Path(__file__).resolve().parents[1] / "logai"
LAYERS = [
    {"__init__", "events", "config", "paths", "checksums", "metrics", "logs", "devices", "calibration",
     "background", "timestamps", "scores"},
    {"store"},
    {"parsing", "semantics", "detect", "slm", "llm", "route"},  # the stages
    {"pipeline"},
    {"service"},
    {"doors", "incidents"},
    {"bootstrap"},
    {"api", "console", "evaluation"},
    {"cli"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _part(path: Path) -> str:
    """The top-level package or module of `logai/` that a file belongs to."""
    relative = path.relative_to(LOGAI)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imports(path: Path) -> set[str]:
    """The parts of logai that a file imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] if node.module != "logai" else [f"logai.{a.name}" for a in node.names]
        found.update(name.split(".")[1] for name in names if name.startswith("logai."))
    return found


FILES = sorted(LOGAI.rglob("*.py"))


def test_every_part_of_logai_has_a_layer() -> None:
    assert sorted({_part(path) for path in FILES} - set(RANK)) == []


def _upward(path: Path, part: str) -> list[str]:
    return sorted(name for name in _imports(path) if name in RANK and RANK[name] > RANK[part])


@pytest.mark.parametrize("path", FILES, ids=lambda path: str(path.relative_to(LOGAI)))
def test_no_upward_imports(path: Path) -> None:
    upward = _upward(path, _part(path))
    assert not upward, f"{path.relative_to(LOGAI)} ({_part(path)}) imports upward: {upward}"


def test_the_check_can_fail(tmp_path: Path) -> None:
    """A stage importing the service, even inside a function or for type checking only, is found."""
    stage = tmp_path / "stage.py"
    stage.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from logai.service import X\n"
                     "def f():\n    import logai.pipeline\n    from logai import bootstrap\n")
    assert _upward(stage, "route") == ["bootstrap", "pipeline", "service"]
