from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LOGAI_BENCH_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture
def data_dir() -> Path:
    if not (DATA / "loghub_2k").is_dir():
        pytest.skip(f"benchmark data not found at {DATA} (set LOGAI_BENCH_DATA to run this test)")
    return DATA


@pytest.fixture
def pipeline():
    from logai.pipeline import ParsePipeline

    return ParsePipeline()


@pytest.fixture
def kafka_broker():
    from pipelines.tansu_broker import Broker

    broker = Broker()
    yield broker
    broker.stop()
