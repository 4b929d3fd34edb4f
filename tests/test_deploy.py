"""deploy/ cannot run here (no container engine); check that it parses and names real settings and commands."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import click
import yaml

from logai.cli.main import COMMANDS, cli
from logai.config import Settings, load_settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def _documents() -> list[dict]:
    docs = []
    for path in [DEPLOY / "docker-compose.yml", *sorted((DEPLOY / "k8s").glob("*.yaml"))]:
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def test_manifests_parse():
    kinds = {d.get("kind") for d in _documents()}
    assert {"ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler"} <= kinds


def test_configmap_config_is_a_valid_logai_config(tmp_path):
    cm = next(d for d in _documents() if d.get("kind") == "ConfigMap")
    path = tmp_path / "logai.yaml"
    path.write_text(cm["data"]["logai.yaml"])
    settings = load_settings(path, environ={})
    assert settings.kafka.group_id == "logai" and settings.store.url.startswith("postgresql")


def test_environment_overrides_name_real_settings():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    env = compose["services"]["api"]["environment"]
    settings = load_settings(environ={k: str(v) for k, v in env.items()})
    assert settings.kafka.bootstrap_servers == ["kafka:9092"] and settings.logging.json_format
    for key in env:
        section, _, name = key.removeprefix("LOGAI_").lower().partition("__")
        assert section in Settings.model_fields, key
        assert name in type(getattr(Settings(), section)).model_fields or name == "json", key


def _commands_in_manifests() -> list[list[str]]:
    found = []
    for doc in _documents():
        for service in (doc.get("services") or {}).values():
            if "command" in service:  # our images; kafka and postgres run their own
                found.append(service["command"])
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        found += [c["args"] for c in spec.get("containers", [])]
    for unit in (DEPLOY / "systemd").glob("*.service"):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read(unit)
        found.append(parser["Service"]["ExecStart"].split()[1:])
    return found


def test_commands_and_options_exist():
    for args in _commands_in_manifests():
        words = [a for a in args if not a.startswith("/")]
        command = next(w for w in words if not w.startswith("-") and w in COMMANDS)
        found = cli.get_command(click.Context(cli), command)
        assert found is not None
        options = {o for param in found.params for o in param.opts} | \
                  {o for param in cli.params for o in param.opts}
        for word in words:
            if word.startswith("--"):
                assert word in options, f"{word} is not an option of `logai {command}`"


def test_dockerfile_installs_torch_before_logai():
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"torch==2\.13\.0.*\n.*pip install .*\.", text)
