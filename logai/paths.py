"""Where logai finds its shipped configuration (formats, defaults), in a checkout or an installed wheel."""

from __future__ import annotations

import os
from pathlib import Path


def config_dir() -> Path:
    """The `configs/` folder: `$LOGAI_CONFIG_DIR`, the checkout's `configs/`, or the copy inside the wheel."""
    override = os.environ.get("LOGAI_CONFIG_DIR")
    if override:
        return Path(override)
    here = Path(__file__).resolve().parent
    checkout = here.parent / "configs"
    if (checkout / "formats").is_dir():
        return checkout
    return here / "_configs"
