"""Start-up: the CLI and every command module import without torch, scikit-learn, SciPy or FastAPI; each
command's `--help` runs without them too. Those load inside the commands that use them (a fact about
`sys.modules` in a fresh interpreter, not a timing)."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

HEAVY = ("torch", "sklearn", "scipy", "fastapi", "transformers")
COMMAND_MODULES = ["analyze_cmd", "daemon_cmd", "detect_cmd", "eval_cmd", "formats_cmd", "llm_cmd", "parse_cmd",
                   "serve_cmd", "templates_cmd"]
COMMANDS_CHECKED = ["analyze", "daemon", "detect", "eval", "formats", "llm", "parse", "router", "serve",
                    "templates"]


def heavy_modules_after(code: str) -> list[str]:
    probe = f"""
import sys
{code}
print(",".join(m for m in {HEAVY!r} if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    last_line = out.stdout.splitlines()[-1]  # the probe's own line, after any help text
    return [m for m in last_line.split(",") if m]


@pytest.mark.parametrize("module", ["main", *COMMAND_MODULES])
def test_importing_a_command_module_loads_nothing_heavy(module):
    assert heavy_modules_after(f"import logai.cli.{module}") == []


@pytest.mark.parametrize("command", COMMANDS_CHECKED)
def test_help_of_every_command_loads_nothing_heavy(command):
    code = f"""
from logai.cli.main import cli
try:
    cli([{command!r}, "--help"], standalone_mode=False)
except SystemExit:
    pass
"""
    assert heavy_modules_after(code) == []


def test_the_listed_commands_are_all_checked():
    from logai.cli.main import COMMANDS, cli

    assert sorted(cli.list_commands(click.Context(cli))) == sorted(COMMANDS) == sorted(COMMANDS_CHECKED)


def test_top_level_help_imports_no_command_module():
    """`logai --help` lists the commands from their registry: not one command module is imported."""
    code = """
import sys
from logai.cli.main import cli
try:
    cli(["--help"], standalone_mode=False)
except SystemExit:
    pass
print(",".join(m for m in sys.modules if m.startswith("logai.cli.") and m.endswith("_cmd")) or "none")
print(",".join(m for m in ("pydantic", "logai.config", "logai.pipeline") if m in sys.modules) or "none")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    commands_loaded, heavy = out.stdout.splitlines()[-2:]
    assert "Commands:" in out.stdout and "parse" in out.stdout
    assert commands_loaded == "none" and heavy == "none", out.stdout


def test_every_registered_command_resolves_to_its_click_command():
    from logai.cli.main import COMMANDS, cli

    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name in (name, COMMANDS[name][1])
        assert command.help  # its own --help has text
    assert cli.get_command(ctx, "no-such-command") is None


def test_parse_without_logai_variables_imports_neither_pydantic_settings_nor_tqdm(tmp_path):
    """pydantic-settings reads `LOGAI_` variables only when one is set, and tqdm loads only for a progress bar:
    each was a sixth or a tenth of `logai parse`'s start-up."""
    import os

    log = tmp_path / "ten.log"
    log.write_text("081109 203615 148 INFO dfs.DataNode: PacketResponder 1 terminating\n" * 10)
    code = f"""
import sys
from logai.cli.main import cli
try:
    cli(["parse", "--no-progress", {str(log)!r}, "--out", {os.devnull!r}], standalone_mode=False)
except SystemExit:
    pass
print(",".join(m for m in ("pydantic_settings", "tqdm") if m in sys.modules) or "none")
"""
    environ = {key: value for key, value in os.environ.items() if not key.upper().startswith("LOGAI_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True,
                         env=environ)
    assert out.stdout.splitlines()[-1] == "none", out.stderr
    environ["LOGAI_PARSING__SIM_TH"] = "0.6"  # a variable that sets something: pydantic-settings reads it
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True,
                         env=environ)
    assert out.stdout.splitlines()[-1] == "pydantic_settings", out.stderr
