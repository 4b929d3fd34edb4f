"""sha256 manifests for saved model folders: every file's hash is checked before any byte of it is parsed, so a
damaged or swapped file is a clear error, never a half-loaded model."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


class ChecksumError(ValueError):
    """A file is missing, unreadable, or not the one its manifest records."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hashes(folder: Path, names: Iterable[str]) -> dict[str, str]:
    """{name: sha256} of files in `folder`, for a manifest."""
    return {name: sha256_file(folder / name) for name in names}


def verify(folder: Path, expected: dict[str, str]) -> None:
    """Raise ChecksumError unless every listed file has the recorded sha256."""
    for name, wanted in expected.items():
        if "/" in name or "\\" in name or name.startswith("."):
            raise ChecksumError(f"{folder}: manifest names a file outside the folder: {name!r}")
        try:
            actual = sha256_file(folder / name)
        except OSError as exc:
            raise ChecksumError(f"cannot read {folder / name}: {exc}") from exc
        if actual != wanted:
            raise ChecksumError(f"{folder / name} does not have the sha256 its manifest records: "
                                "damaged or changed since it was saved")
