"""Saving and loading fitted detectors: a folder with the pickled estimator and a JSON manifest (logai
version, format version, class, constructor parameters, feature schema), so a stored detector says what it
expects before it is used, and a wrong or damaged one is a clear error rather than a silent misfit.
"""

from __future__ import annotations

import inspect
import json
import pickle
import time
from pathlib import Path
from typing import Any

from logai import __version__

FORMAT_VERSION = 1


class DetectorFileError(ValueError):
    pass


def params(detector: Any) -> dict[str, Any]:
    """The constructor parameters (scikit-learn convention: stored under their own names)."""
    names = [p for p in inspect.signature(type(detector).__init__).parameters if p != "self"]
    return {name: getattr(detector, name) for name in names if hasattr(detector, name)}


def feature_schema(detector: Any) -> list[str]:
    if hasattr(detector, "counter_"):
        return detector.counter_.schema
    if hasattr(detector, "vocabulary_"):
        return sorted(detector.vocabulary_, key=detector.vocabulary_.get)
    raise DetectorFileError(f"{type(detector).__name__} is not fitted: nothing to save")


def save(detector: Any, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"format": FORMAT_VERSION, "logai": __version__, "class": type(detector).__name__,
                "params": params(detector), "feature_schema": feature_schema(detector), "saved_at": time.time()}
    with open(folder / "detector.pkl", "wb") as handle:
        pickle.dump(detector, handle)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    return folder


def load(folder: Path, expected_class: str | None = None) -> Any:
    """A detector saved by `save`; DetectorFileError when it is missing, damaged or not what was expected.
    Only load detectors you saved yourself: the estimator is a pickle."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise DetectorFileError(f"no readable detector manifest in {folder}: {exc}") from exc
    if manifest.get("format") != FORMAT_VERSION:
        raise DetectorFileError(f"{folder} has detector format {manifest.get('format')!r}; "
                                f"this logai reads {FORMAT_VERSION}")
    if expected_class and manifest.get("class") != expected_class:
        raise DetectorFileError(f"{folder} holds a {manifest.get('class')}, not a {expected_class}")
    try:
        with open(folder / "detector.pkl", "rb") as handle:
            detector = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as exc:
        raise DetectorFileError(f"cannot read the detector in {folder}: {exc}") from exc
    if type(detector).__name__ != manifest["class"] or feature_schema(detector) != manifest["feature_schema"]:
        raise DetectorFileError(f"{folder}: the detector does not match its manifest")
    return detector
