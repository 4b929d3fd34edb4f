"""Configuration: YAML under `configs/`, validated by pydantic, overridable by environment variables.

Precedence, lowest first: the defaults in these models (the "embedded defaults"), the YAML file
(`configs/logai.yaml`, or `--config PATH`, or `$LOGAI_CONFIG`), then `LOGAI_<SECTION>__<KEY>` variables,
e.g. `LOGAI_PARSING__SIM_TH=0.4`, read by pydantic-settings (numbers and booleans as text, lists and
mappings as JSON).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal, cast

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from logai.paths import config_dir

ENV_PREFIX = "LOGAI_"


def read_yaml(text: str) -> Any:
    """YAML text as Python data, safely: with libyaml's C loader where PyYAML has it (every command reads the
    shipped formats and config at start, and the pure-Python loader took most of that time)."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


class ConfigError(ValueError):
    """A configuration file or variable is unreadable or invalid; the message says where and why."""


class MaskRule(BaseModel):
    """A regex whose matches in a message's content are variables, replaced by `<*>` before mining."""

    model_config = ConfigDict(extra="forbid")
    name: str
    pattern: str


class MaskingOverride(BaseModel):
    """Per-format changes to the global masking list."""

    model_config = ConfigDict(extra="forbid")
    disable: list[str] = Field(default_factory=list)  # names of global rules to switch off
    extend: list[MaskRule] = Field(default_factory=list)  # extra rules, applied before the global ones


class ParsingConfig(BaseModel):
    """Template mining (Drain) settings."""

    model_config = ConfigDict(extra="forbid")
    sim_th: float = Field(0.6, gt=0, le=1, description="Drain similarity threshold")
    depth: int = Field(4, ge=3, description="Drain prefix-tree depth")
    max_children: int = Field(100, ge=2)
    max_templates: int = Field(50_000, ge=10, description="cap on templates kept per source (LRU)")
    max_candidates: int = Field(256, ge=8, description="templates one line is compared with at most (Drain leaf "
                                                       "search): bounds the cost of an exploding source")
    max_sources: int = Field(10_000, ge=1, description="sources whose parser state is kept; past it the least "
                                                       "recently used is saved and unloaded")
    max_content_chars: int = Field(8192, ge=64, description="longer contents are mined on a prefix")
    max_line_chars: int = Field(65_536, ge=256, description="longer lines: the header is read from a prefix "
                                                          "and the event is flagged truncated; raw is kept")
    max_record_lines: int = Field(500, ge=1, description="lines joined into one record at most, for formats with "
                                                         "multiline: true (a record also ends at max_line_chars)")
    cache_size: int = Field(100_000, ge=0, description="fast-path cache: masked shape -> template")
    state_file: Path | None = Field(None, description="where miner state is saved and reloaded")
    save_interval_s: float = Field(60.0, gt=0)
    masking: list[MaskRule] = Field(default_factory=list)


class SemanticsConfig(BaseModel):
    """Concept–instance semantics (SemParser-style), run once per template."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    model_path: Path | None = Field(None, description="pair model JSON; default: the one shipped with logai")
    kb_max_instances: int = Field(100_000, ge=100, description="knowledge-base size per source (LRU)")
    cache_size: int = Field(50_000, ge=10, description="templates whose semantics are kept")


class RetentionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_age_days: float | None = Field(None, gt=0)
    max_events: int | None = Field(None, gt=0)
    interval_s: float = Field(300.0, gt=0, description="how often the service applies retention")


class StoreConfig(BaseModel):
    """Where events live: SQLite under data_dir by default, or any SQLAlchemy URL (PostgreSQL)."""

    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, description="default: sqlite:///<data_dir>/logai.db")
    bucket_seconds: int = Field(60, ge=1, description="time bucket of template counts")
    writer_process: bool = Field(True, description="the daemon writes through a child process (uses a 2nd core)")
    retention: RetentionConfig = Field(default_factory=RetentionConfig)


MIN_API_KEY_CHARS = 12


class ApiConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    api_keys: list[str] = Field(default_factory=list, description="accepted X-API-Key values (at least "
                                f"{MIN_API_KEY_CHARS} characters each); empty: no auth")
    max_request_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="body cap, compressed and decoded "
                                                                          "(413)")
    max_lines_per_request: int = Field(100_000, ge=1, description="lines or records per ingest request (413)")
    max_field_chars: int = Field(16_384, ge=256, description="longer content/raw fields are cut in responses "
                                                             "(flag response_truncated)")
    max_response_bytes: int = Field(8 * 1024 * 1024, ge=65_536, description="an events page stops before "
                                                                             "this size; next_cursor goes on")
    default_format: str = "generic"
    max_page_size: int = Field(1000, ge=1)

    @field_validator("api_keys")
    @classmethod
    def _strong_keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if len(key.strip()) < MIN_API_KEY_CHARS or key != key.strip():
                raise ValueError(f"an API key must be at least {MIN_API_KEY_CHARS} characters, without leading "
                                 "or trailing blanks (an empty key would let anyone in)")
        return keys


class KafkaConfig(BaseModel):
    """The streaming daemon: topics to consume, where to publish, and client security."""

    model_config = ConfigDict(extra="forbid")
    bootstrap_servers: list[str] = Field(default_factory=lambda: ["127.0.0.1:9092"])
    topics: list[str] = Field(default_factory=lambda: ["logs"])
    group_id: str = "logai"
    output_topic: str | None = Field("logai-events", description="enriched events (JSON), keyed by source")
    dead_letter_topic: str | None = Field("logai-dead-letters", description="records that failed, raw bytes")
    anomalies_topic: str | None = Field("logai-anomalies", description="anomalies found in the stream (JSON)")
    default_format: str = "generic"
    formats: dict[str, str] = Field(default_factory=dict, description="source (record key) -> log format")
    max_poll_records: int = Field(2000, ge=1)
    poll_timeout_ms: int = Field(500, ge=1)
    fetch_max_wait_ms: int = Field(100, ge=1, description="how long the broker may hold a fetch for more data")
    session_timeout_ms: int = Field(10_000, ge=1000)
    heartbeat_interval_ms: int = Field(3000, ge=100)
    retry_backoff_s: float = Field(1.0, gt=0, description="first wait after a failed batch (doubles, max 30 s)")
    bootstrap_timeout_ms: int = Field(30_000, ge=100, description="how long the daemon waits for the brokers at "
                                                                 "start before it stops with a clear error")
    metrics_port: int | None = Field(None, ge=0, le=65535, description="serve /metrics on this port")
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_plain_username: str | None = None
    sasl_plain_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def client_options(self) -> dict[str, object]:
        """Connection and security options shared by the consumer and the producer."""
        options: dict[str, object] = {"bootstrap_servers": self.bootstrap_servers,
                                      "security_protocol": self.security_protocol,
                                      "bootstrap_timeout_ms": self.bootstrap_timeout_ms}
        for name in ("sasl_mechanism", "sasl_plain_username", "sasl_plain_password", "ssl_cafile",
                     "ssl_certfile", "ssl_keyfile"):
            if getattr(self, name) is not None:
                options[name] = getattr(self, name)
        return options


class DetectConfig(BaseModel):
    """Anomaly detection in the stream: signals that need no training, and a fitted detector for sessions."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    new_template: bool = True
    new_template_warmup: int = Field(10_000, ge=0, description="events per source before new templates count")
    explosion_ratio: float = Field(0.2, gt=0, le=1, description="share of new templates in a block that flags a "
                                                                "source once as a template explosion")
    explosion_min_new: int = Field(50, ge=1)
    explosion_window: int = Field(1000, ge=10, description="events per block")
    template_rate: bool = True
    error_rate: bool = True
    bucket_s: float = Field(60.0, gt=0)
    rate_z: float = Field(6.0, gt=0, description="z-score of a bucket count against its baseline")
    rate_min_count: int = Field(20, ge=1)
    session_concept: str | None = Field(None, description="parameter concept that keys sessions, e.g. block")
    session_pattern: str | None = Field(None, description="or a regex over parameter values, e.g. blk_-?\\d+")
    session_timeout_s: float = Field(300.0, gt=0)
    window_s: float | None = Field(None, gt=0, description="also score fixed time windows of this size")
    model_path: Path | None = Field(None, description="a detector folder saved by `logai detect train`")

    @field_validator("session_pattern")
    @classmethod
    def _valid_regex(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a valid regex: {exc}") from exc
        return pattern


class LlmConfig(BaseModel):
    """The LLM: in-process (`local`) or any OpenAI-compatible server (`openai`: vLLM, SGLang, logai llm serve)."""

    model_config = ConfigDict(extra="forbid")
    backend: Literal["local", "openai"] = "local"
    model: str | None = Field(None, description="local: HF model dir or .gguf (default: packaged SmolLM2); "
                                                "openai: the served model name")
    speculation: Literal["none", "suffix", "recycling"] = "suffix"
    device: str | None = Field(None, description="cpu, cuda, cuda:1 ... (default: cuda when present)")
    dtype: str | None = Field(None, description="bfloat16, float16, float32 (default: bf16 where supported)")
    cache_dir: Path | None = Field(None, description="dequantized GGUF cache (default: ~/.cache/logai)")
    base_url: str = "http://127.0.0.1:8001"
    api_key: str | None = None
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(3, ge=0)
    max_concurrency: int = Field(8, ge=1)
    failure_threshold: int = Field(5, ge=1, description="failures in a row that open the circuit breaker")
    reset_after_s: float = Field(30.0, gt=0, description="how long the open circuit fails fast")


class RouteConfig(BaseModel):
    """AdaptiveLog routing: the small model first, the LLM for what it is unsure of."""

    model_config = ConfigDict(extra="forbid")
    model_dir: Path | None = Field(None, description="a router folder written by `logai router train` or "
                                                     "pipelines/train_slm.py (default: the anomaly router that "
                                                     "ships with logai)")
    llm: bool = Field(True, validation_alias=AliasChoices("llm", "use_llm"),
                      description="escalate uncertain verdicts to the configured `llm` where it is expected to "
                                  "beat the small model (`off`: the small model decides everything)")
    k: int = Field(5, ge=0, le=50, description="error-prone cases retrieved into the LLM prompt")
    statistic: Literal["entropy", "vote"] = "entropy"
    mc_screen: float | None = Field(0.5, ge=0, le=1,
                                    description="MC dropout only for items whose deterministic uncertainty is at "
                                                "least this share of the routing threshold (none: every item)")
    max_llm_calls_per_s: float | None = Field(2.0, gt=0, description="LLM calls per second (none: no limit)")
    max_llm_calls_per_day: int | None = Field(20_000, ge=0, description="LLM calls per UTC day, by every process "
                                                                        "on the store together (none: no limit)")
    cache_size: int = Field(20_000, ge=0, description="verdicts kept, by (task, small-model input): about 16 MB")
    ingest_task: str | None = Field("anomaly", description="give every ingested event a verdict of this task, "
                                                           "stored as an analysis (none: only on request)")
    feedback_sync_s: float | None = Field(5.0, gt=0, description="how often `serve` and `daemon` look for "
                                          "corrections another process on the same store took, and apply them "
                                          "(none: only their own)")


class OtlpConfig(BaseModel):
    """OTLP/HTTP logs at POST /v1/logs."""

    model_config = ConfigDict(extra="forbid")
    source_attributes: list[str] = Field(default_factory=lambda: ["service.name"],
                                         description="resource attributes that name the source, first found wins")
    default_source: str = "otlp"


class JournalConfig(BaseModel):
    """systemd's Journal Export Format at POST /upload (`systemd-journal-upload --url=...`)."""

    model_config = ConfigDict(extra="forbid")
    source_fields: list[str] = Field(default_factory=lambda: ["SYSLOG_IDENTIFIER", "_SYSTEMD_UNIT", "_COMM"],
                                     description="journal fields that name the source, first found wins")
    default_source: str = "journal"


class LokiConfig(BaseModel):
    """The Loki push API at POST /loki/api/v1/push."""

    model_config = ConfigDict(extra="forbid")
    source_labels: list[str] = Field(default_factory=lambda: ["service_name", "job", "app"],
                                     description="stream labels that name the source, first found wins")
    default_source: str = "loki"
    line_format: str = Field("auto", description="format of the pushed lines: auto (JSON when a line is a JSON "
                                                 "object, else generic), or any format name")


class SyslogConfig(BaseModel):
    """The syslog listener (`logai serve --syslog-port`): TCP (RFC 6587), UDP (RFC 5426), TLS (RFC 5425)."""

    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int | None = Field(None, ge=0, le=65535, description="TCP port (514 is usual); none: off")
    udp_port: int | None = Field(None, ge=0, le=65535, description="UDP port; none: off")
    tls_port: int | None = Field(None, ge=0, le=65535, description="TLS port (6514 is usual); needs cert and key")
    tls_certfile: str | None = None
    tls_keyfile: str | None = None
    source: Literal["app", "host"] = Field("app", description="what names the source: app-name or host")
    default_source: str = "syslog"
    max_message_bytes: int = Field(65536, ge=480, description="longer frames are dead-lettered")
    udp_queue: int = Field(20000, ge=1, description="datagrams waiting to be stored; past it they are dropped")
    batch_lines: int = Field(2000, ge=1, description="UDP datagrams stored per batch")

    @property
    def enabled(self) -> bool:
        """The listener runs when any of its ports is set."""
        return any(port is not None for port in (self.port, self.udp_port, self.tls_port))


class WebhookConfig(BaseModel):
    """A generic JSON webhook (Slack-compatible `text`), optionally signed with HMAC-SHA256."""

    model_config = ConfigDict(extra="forbid")
    url: str
    name: str | None = Field(None, description="shown in the delivery log (default: the URL's host)")
    secret: str | None = Field(None, description="signs `<X-Logai-Timestamp>.<body>` into X-Logai-Signature")


class AlertsConfig(BaseModel):
    """Incidents (anomalies and abnormal verdicts grouped) and their alerts to Alertmanager and webhooks."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(True, description="group anomalies and abnormal verdicts into incidents")
    gap_s: float = Field(300.0, gt=0, description="event-time gap within which a signal of a template that no open "
                                                  "incident holds joins a related one")
    quiet_s: float = Field(600.0, gt=0, description="an incident with no new signal for this long resolves")
    group_by: list[str] = Field(default_factory=list, description="event fields that split a source's incidents "
                                                                  "(e.g. host)")
    related_similarity: float = Field(0.5, ge=0, le=1, description="word overlap (Jaccard) at which a new "
                                                                   "template joins an incident's templates")
    max_open_per_source: int = Field(20, ge=1, description="past this, new templates join the latest incident")
    ignore_detectors: list[str] = Field(["new_template", "template_explosion"],
                                        description="detectors whose anomalies are stored but open no incident")
    critical_count: int = Field(1000, ge=1, description="signals that make an incident critical")
    min_severity: Literal["info", "warning", "critical"] = Field("warning", description="alert from this severity")
    llm_summary: bool = Field(True, description="the LLM summarises an incident (else a template summary)")
    max_summaries_per_day: int = Field(500, ge=0, description="LLM summaries per UTC day, by every process on the "
                                                            "store together")
    resummarize_growth: float = Field(10.0, gt=1, description="summarise again when the count grows this much")
    summary_wait_s: float = Field(15.0, ge=0, description="a webhook waits this long for the LLM summary")
    alertmanager_url: str | None = Field(None, description="e.g. http://127.0.0.1:9093")
    webhooks: list[WebhookConfig] = Field(default_factory=list)
    resend_s: float = Field(60.0, gt=0, description="Alertmanager re-send interval while an incident is open")
    timeout_s: float = Field(5.0, gt=0)
    max_attempts: int = Field(20, ge=1, description="failed deliveries past this are dead letters")
    backoff_s: float = Field(1.0, gt=0, description="first retry delay, doubled each time up to max_backoff_s")
    max_backoff_s: float = Field(60.0, gt=0)
    public_url: str | None = Field(None, description="base of the links in alerts (default: http://api.host:port)")


class MetricsConfig(BaseModel):
    """Prometheus metrics at /metrics."""

    model_config = ConfigDict(extra="forbid")
    max_source_labels: int = Field(1000, ge=1, description="sources with their own label value; later ones "
                                                           "are counted as `other`")


class LoggingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: str = "INFO"
    json_format: bool = Field(False, alias="json")

    @field_validator("level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return value


class Settings(BaseModel):
    """The whole configuration of a logai process. Built from keyword arguments alone (`Settings(...)`); the
    YAML file and the `LOGAI_` variables are read by `load_settings`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    data_dir: Path = Path(".logai")
    formats_dir: Path | None = Field(None, description="extra format YAML files, beside the shipped ones")
    parsing: ParsingConfig = Field(default_factory=ParsingConfig)
    semantics: SemanticsConfig = Field(default_factory=SemanticsConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    kafka: KafkaConfig = Field(default_factory=KafkaConfig)
    detect: DetectConfig = Field(default_factory=DetectConfig)
    llm: LlmConfig = Field(default_factory=LlmConfig)
    route: RouteConfig = Field(default_factory=RouteConfig)
    otlp: OtlpConfig = Field(default_factory=OtlpConfig)
    loki: LokiConfig = Field(default_factory=LokiConfig)
    journal: JournalConfig = Field(default_factory=JournalConfig)
    syslog: SyslogConfig = Field(default_factory=SyslogConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)


def store_url(settings: Settings) -> str:
    """The configured store URL, or the embedded default: SQLite under `data_dir`."""
    return settings.store.url or f"sqlite:///{settings.data_dir / 'logai.db'}"


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """The settings the `LOGAI_` variables give, as a nested dict {"parsing": {"sim_th": "0.4"}}, read by
    pydantic-settings (imported only when such a variable is set: it is a sixth of a command's start-up).
    Variables that name no setting (`LOGAI_CONFIG`, a test harness's own) are not configuration; a wrong key
    inside a known section is still reported, so typos do not pass silently."""
    if not any(key.upper().startswith(ENV_PREFIX) and key.upper() != "LOGAI_CONFIG" for key in environ):
        return {}
    from pydantic_settings import EnvSettingsSource

    class Environment(EnvSettingsSource):
        def _load_env_vars(self) -> dict[str, str | None]:  # from the given mapping, not os.environ
            return {key.lower(): value for key, value in environ.items()}

    try:
        return Environment(cast(Any, Settings), case_sensitive=False, env_prefix=ENV_PREFIX,
                           env_nested_delimiter="__", env_parse_none_str="null")()
    except Exception as exc:  # pydantic-settings' SettingsError: a variable that is not valid JSON
        raise ConfigError(f"environment: {exc}") from exc


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def default_config_path() -> Path:
    return config_dir() / "logai.yaml"


def load_settings(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Load settings from YAML plus environment; raise `ConfigError` with a readable message."""
    environ = dict(os.environ if environ is None else environ)
    if path is None:
        path = environ.get("LOGAI_CONFIG") or default_config_path()
    path = Path(path)
    data: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = read_yaml(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level, got {type(loaded).__name__}")
        data = loaded or {}
    elif "LOGAI_CONFIG" in environ or path != default_config_path():
        raise ConfigError(f"config file not found: {path}")
    overrides = _env_overrides(environ)
    data = _merge(data, overrides)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            variable = _env_variable(overrides, loc)
            where = f"environment variable {variable}" if variable else str(path)
            problems.append(f"{where}: {'.'.join(loc)}: {err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from exc


def _env_variable(overrides: dict[str, Any], loc: list[str]) -> str | None:
    """The LOGAI_ variable that set the value at `loc` (or a section above it), if one did."""
    node: Any = overrides
    for depth, part in enumerate(loc):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
        if not isinstance(node, dict) or depth == len(loc) - 1:
            return ENV_PREFIX + "__".join(loc[: depth + 1]).upper()
    return None


_SECRET_KEYS = re.compile(r"password|api_keys?$|secret|token")
_URL_PASSWORD = re.compile(r"(//[^:/@]+:)[^@/]+@")


def redacted(settings: BaseModel) -> dict[str, Any]:
    """The settings as JSON-ready data with secrets masked (for run manifests and reports)."""
    def walk(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return ["***" for _ in value] if _SECRET_KEYS.search(key) else [walk(v) for v in value]
        if value is not None and _SECRET_KEYS.search(key):
            return "***"
        return _URL_PASSWORD.sub(r"\1***@", value) if isinstance(value, str) else value

    return walk(settings.model_dump(mode="json"))
