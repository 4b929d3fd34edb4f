"""Process logging: human-readable by default, one JSON object per record with `--log-json`."""

from __future__ import annotations

import logging
import sys
import time

import orjson


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(payload).decode()


def setup_logging(level: str = "INFO", json_format: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json_format:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request at INFO: each alert delivered (and re-sent) would be a line; failures are ours
    logging.getLogger("httpx").setLevel(max(root.level, logging.WARNING))
    # Alembic names its context and plugins, and FAISS which CPU build it tried, at INFO on every start:
    # what a user needs from them is a warning or an error
    for chatty in ("alembic", "faiss.loader"):
        logging.getLogger(chatty).setLevel(max(root.level, logging.WARNING))
