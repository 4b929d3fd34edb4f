import pytest

from logai.config import ConfigError, load_settings


def test_embedded_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.delenv("LOGAI_CONFIG", raising=False)
    settings = load_settings(environ={})
    assert settings.parsing.sim_th == 0.6 and settings.parsing.state_file is None


def test_environment_overrides_yaml(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("parsing:\n  sim_th: 0.6\n  depth: 5\n")
    settings = load_settings(config, environ={"LOGAI_PARSING__SIM_TH": "0.7", "LOGAI_LOGGING__LEVEL": "debug"})
    assert settings.parsing.sim_th == 0.7 and settings.parsing.depth == 5
    assert settings.logging.level == "DEBUG"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("parsing: [1, 2", "not valid YAML"),
        ("- just a list", "mapping at the top level"),
        ("parsing:\n  sim_th: 2\n", "parsing.sim_th"),
        ("parsing:\n  unknown_key: 1\n", "unknown_key"),
    ],
)
def test_invalid_config_is_a_readable_error(tmp_path, text, message):
    config = tmp_path / "c.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config, environ={})


def test_missing_explicit_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "absent.yaml", environ={})


def test_shipped_config_is_valid():
    from logai.config import default_config_path

    assert load_settings(default_config_path(), environ={}).parsing.max_templates == 50_000


def test_unrelated_logai_variables_are_not_configuration(tmp_path):
    settings = load_settings(environ={"LOGAI_BENCH_DATA": "/somewhere", "LOGAI_CONFIG_DIR": "/x",
                                      "LOGAI_PARSING__DEPTH": "5"})
    assert settings.parsing.depth == 5


def test_a_typo_inside_a_known_section_is_reported():
    with pytest.raises(ConfigError, match="simth"):
        load_settings(environ={"LOGAI_PARSING__SIMTH": "0.4"})


def test_redacted_masks_secrets_for_manifests():
    from logai.config import redacted

    settings = load_settings()
    settings.llm.api_key = "sk-secret"
    settings.store.url = "postgresql://logai:hunter2@db/logai"
    dumped = redacted(settings)
    assert dumped["llm"]["api_key"] == "***" and dumped["store"]["url"] == "postgresql://logai:***@db/logai"
    assert "sk-secret" not in str(dumped) and "hunter2" not in str(dumped)
