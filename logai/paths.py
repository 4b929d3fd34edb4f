"""Where logai finds its shipped configuration (formats, defaults), in a checkout or an installed wheel."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def config_dir() -> Path:
    """The `configs/` folder: `$LOGAI_CONFIG_DIR`, the checkout's `configs/`, or the installed copy."""
    override = os.environ.get("LOGAI_CONFIG_DIR")
    if override:
        return Path(override)
    checkout = Path(__file__).resolve().parent.parent / "configs"
    if (checkout / "formats").is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "logai" / "configs"
