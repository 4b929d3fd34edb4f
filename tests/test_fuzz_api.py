"""Schemathesis against the app's own /openapi.json: generated requests for every operation, in and out of
the schema, must never get a 5xx (issue 14: 38 fuzzed 500s, none logged). A bounded example count keeps it
to well under a minute here. `pipelines/bench_hostile.py` runs this same test against a real `logai serve`
(`LOGAI_FUZZ_URL`) with more examples per operation (`LOGAI_FUZZ_EXAMPLES`) to send over 10,000 requests."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

URL = os.environ.get("LOGAI_FUZZ_URL")
EXAMPLES = int(os.environ.get("LOGAI_FUZZ_EXAMPLES", "25"))

if URL:
    schema = schemathesis.openapi.from_url(f"{URL}/openapi.json")
else:
    from logai.api.app import create_app
    from logai.bootstrap import build_service
    from logai.config import ApiConfig, Settings

    _settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="logai-fuzz-")),
                         api=ApiConfig(max_request_bytes=1 << 20))
    app = create_app(_settings)
    # what the lifespan would do (schemathesis calls the ASGI app without running it)
    app.state.settings, app.state.service = _settings, build_service(_settings)
    app.state.analysis = None
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)


# the live tail is a stream that ends when its client leaves: called in-process it never ends (the ASGI client
# buffers it without bound); tests/test_console.py drives it from a browser
@schema.exclude(path="/v1/tail").parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case) -> None:
    response = case.call(**({"base_url": URL} if URL else {}))
    documented = response.status_code == 503 and "no router configured" in response.text  # verdict routes
    assert response.status_code < 500 or documented, (case.method, case.formatted_path, response.text[:300])
