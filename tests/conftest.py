from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LOGAI_BENCH_DATA", ROOT.parent / "shared" / "data"))
EXAMPLE = ROOT / "examples" / "logs" / "payments-api.log"
# its records: every one starts with a date; the lines of a stack trace continue the record above them
EXAMPLE_RECORDS = sum(1 for line in EXAMPLE.open() if line[:4].isdigit())


@pytest.fixture
def data_dir() -> Path:
    if not (DATA / "loghub_2k").is_dir():
        pytest.skip(f"benchmark data not found at {DATA} (set LOGAI_BENCH_DATA to run this test)")
    return DATA


@pytest.fixture
def pipeline():
    from logai.pipeline import Pipeline

    return Pipeline()


@pytest.fixture
def kafka_broker():
    from pipelines.tansu_broker import Broker

    broker = Broker()
    yield broker
    broker.stop()


PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def pg_url():
    """A URL into a fresh schema of the local PostgreSQL server, dropped afterwards."""
    import uuid

    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN)
    try:
        with admin.begin() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (it runs on every machine of this kind)")
    schema_name = f"t_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema_name}"))
    yield f"{PG_ADMIN}?options=-csearch_path%3D{schema_name}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema_name} CASCADE"))
    admin.dispose()


@pytest.fixture(scope="session")
def smollm_dir() -> Path:
    """The packaged SmolLM2-135M-Instruct, dequantized once into the user's cache (about 15 s the first time)."""
    from logai.llm.model_files import resolve_model

    return resolve_model(None)


@pytest.fixture(scope="session")
def tiny_model(smollm_dir):
    """A random-weight 2-layer Llama with SmolLM2's tokenizer: fast, float32, deterministic."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(smollm_dir)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    return model, tokenizer


@pytest.fixture
def tiny_backend(tiny_model):
    """A LocalBackend over the tiny model; `tiny_backend(speculation)` builds one (fresh proposer state)."""
    from logai.llm.local import LocalBackend

    model, tokenizer = tiny_model

    def build(speculation: str = "none") -> LocalBackend:
        return LocalBackend(model_obj=model, tokenizer=tokenizer, speculation=speculation, device="cpu")

    return build


class LiveServer:
    """A real `logai serve` process on free ports: the HTTP doors and a syslog listener (TCP and UDP)."""

    def __init__(self, folder: Path, config: str = ""):
        from pipelines.local_services import ServeProcess, free_port

        self.syslog_port, self.syslog_udp_port = free_port(), free_port()
        self.server = ServeProcess(folder, config, ["--syslog-port", str(self.syslog_port),
                                                    "--syslog-udp-port", str(self.syslog_udp_port)])
        self.base, self.data = self.server.base, self.server.data

    def events(self, **params) -> list[dict]:
        import httpx

        return httpx.get(f"{self.base}/v1/events", params={"limit": 1000, **params}, timeout=30).json()["events"]

    def wait_events(self, count: int, timeout: float = 30.0, **params) -> list[dict]:
        """Poll until at least `count` events match (deliveries through a shipper are asynchronous)."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            found = self.events(**params)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.2)

    def dead_letters(self) -> list[dict]:
        """The server's dead letters, read from its store (the REST API does not list them)."""
        from logai.store.store import EventStore

        store = EventStore(f"sqlite:///{self.data / 'logai.db'}")
        try:
            return store.dead_letters(1000)
        finally:
            store.close()

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("live"))
    yield server
    server.stop()


@pytest.fixture
def door_client(tmp_path):
    """A TestClient on a fresh store that takes bodies up to 64 MiB (the doors' 100k-record batches)."""
    from fastapi.testclient import TestClient

    from logai.api.app import create_app
    from logai.config import ApiConfig, Settings

    settings = Settings(data_dir=tmp_path, api=ApiConfig(max_request_bytes=64 * 1024 * 1024))
    with TestClient(create_app(settings)) as client:
        yield client


def stored_events(client, **params) -> list[dict]:
    """Events the API returns for `params`, newest first (up to 1000)."""
    return client.get("/v1/events", params={"limit": 1000, **params}).json()["events"]
