"""Saving and loading fitted detectors: a folder with the estimator in skops format, the weights of a neural
detector in safetensors, and a JSON manifest (logai version, format version, class, constructor parameters,
feature schema, sha256 of every file), so a stored detector says what it expects before it is used, and a
wrong or damaged one is a clear error rather than a silent misfit.

Nothing here unpickles: a detector folder may come from anywhere (`--model`, `detect.model_path`), and a
pickle runs code when loaded. Loading checks every file's hash against the manifest, then refuses any type
outside `TRUSTED_TYPES` before skops builds a single object; safetensors holds tensors only.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from logai import __version__
from logai.checksums import ChecksumError, hashes, verify
from logai.detect.base import SessionDetector

FORMAT_VERSION = 2  # 1 was a pickle: no longer read
ESTIMATOR, WEIGHTS = "detector.skops", "weights.safetensors"
# What a detector folder may hold: logai's detectors and their parts, and scikit-learn's tree structure (the
# forests and boosted trees); skops itself trusts builtins, numpy and scikit-learn's estimators.
TRUSTED_TYPES = [
    "logai.detect.detectors.PCADetector",
    "logai.detect.detectors.IsolationForestDetector",
    "logai.detect.detectors.InvariantsMiningDetector",
    "logai.detect.detectors.SupervisedDetector",
    "logai.detect.deeplog.DeepLogDetector",
    "logai.detect.logrobust.LogRobustDetector",
    "logai.detect.features.EventCounter",
    "sklearn.tree._tree.Tree",
]


class DetectorFileError(ValueError):
    pass


def params(detector: SessionDetector) -> dict[str, Any]:
    """The constructor parameters, as scikit-learn's `get_params` gives them."""
    return detector.get_params(deep=False)


def feature_schema(detector: SessionDetector) -> list[str]:
    if hasattr(detector, "counter_"):
        return detector.counter_.schema
    if hasattr(detector, "vocabulary_"):
        return sorted(detector.vocabulary_, key=detector.vocabulary_.get)
    raise DetectorFileError(f"{type(detector).__name__} is not fitted: nothing to save")


def save(detector: SessionDetector, folder: Path) -> Path:
    import skops.io

    schema = feature_schema(detector)  # refuses an unfitted detector before anything is written
    folder.mkdir(parents=True, exist_ok=True)
    skops.io.dump(detector, folder / ESTIMATOR)
    files = [ESTIMATOR]
    model = getattr(detector, "model_", None)
    if model is not None:  # a neural detector: its network's weights, apart from its state
        from safetensors.torch import save_file

        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, folder / WEIGHTS)
        files.append(WEIGHTS)
    manifest = {"format": FORMAT_VERSION, "logai": __version__, "class": type(detector).__name__,
                "params": params(detector), "feature_schema": schema, "saved_at": time.time(),
                "files": hashes(folder, files)}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    return folder


def load(folder: Path, expected_class: str | None = None) -> SessionDetector:
    """A detector saved by `save`; DetectorFileError when it is missing, damaged, of a type logai does not load,
    or not what was expected."""
    import skops.io

    manifest = _manifest(folder, expected_class)
    cannot_read = f"cannot read the detector in {folder}"
    try:  # skops raises many kinds on a damaged file (BadZipFile, KeyError, ...)
        untrusted = sorted(set(skops.io.get_untrusted_types(file=folder / ESTIMATOR)) - set(TRUSTED_TYPES))
    except Exception as exc:
        raise DetectorFileError(f"{cannot_read}: {exc}") from exc
    if untrusted:
        raise DetectorFileError(f"{folder / ESTIMATOR} holds types logai does not load: {', '.join(untrusted)}")
    try:
        detector = skops.io.load(folder / ESTIMATOR, trusted=TRUSTED_TYPES)
    except Exception as exc:
        raise DetectorFileError(f"{cannot_read}: {exc}") from exc
    if type(detector).__name__ != manifest["class"] or feature_schema(detector) != manifest["feature_schema"]:
        raise DetectorFileError(f"{folder}: the detector does not match its manifest")
    if WEIGHTS in manifest["files"]:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            detector.restore_model(load_file(folder / WEIGHTS))
        except (SafetensorError, KeyError, RuntimeError) as exc:
            raise DetectorFileError(f"cannot restore the network of the detector in {folder}: {exc}") from exc
    elif hasattr(detector, "restore_model"):
        raise DetectorFileError(f"{folder}: a {manifest['class']} needs its {WEIGHTS}")
    return detector


def _manifest(folder: Path, expected_class: str | None) -> dict[str, Any]:
    """The manifest, once every file it lists has the hash it records (read before anything is deserialised)."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise DetectorFileError(f"no readable detector manifest in {folder}: {exc}") from exc
    if not isinstance(manifest, dict):
        raise DetectorFileError(f"{folder}/manifest.json is not a detector manifest")
    if manifest.get("format") == 1:
        raise DetectorFileError(f"{folder} was saved by an older logai as a pickle, which logai no longer loads "
                                "(a pickle can run code): train it again with `logai detect train`")
    if manifest.get("format") != FORMAT_VERSION:
        raise DetectorFileError(f"{folder} has detector format {manifest.get('format')!r}; "
                                f"this logai reads {FORMAT_VERSION}")
    if expected_class and manifest.get("class") != expected_class:
        raise DetectorFileError(f"{folder} holds a {manifest.get('class')}, not a {expected_class}")
    files = manifest.get("files")
    if not isinstance(files, dict) or ESTIMATOR not in files or not set(files) <= {ESTIMATOR, WEIGHTS}:
        raise DetectorFileError(f"{folder}/manifest.json must list {ESTIMATOR} (and at most {WEIGHTS}) "
                                "with their sha256")
    try:
        verify(folder, files)
    except ChecksumError as exc:
        raise DetectorFileError(str(exc)) from exc
    return manifest
