"""Where a model runs and in what precision: CUDA when present; bf16 where the hardware computes it natively
(CUDA, CPUs with AVX512-BF16 or AMX), float32 elsewhere. Shared by the LLM and the small model."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch


def pick_device(device: str | None = None) -> torch.device:
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick_dtype(device: torch.device, dtype: str | None = None) -> torch.dtype:
    """bf16 on CUDA and on CPUs with native bf16 (AVX512-BF16 / AMX); float32 elsewhere."""
    if dtype:
        return getattr(torch, dtype)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        flags = ""
    return torch.bfloat16 if ("avx512_bf16" in flags or "amx_bf16" in flags) else torch.float32


# transformers' from_pretrained keeps its loading state in module globals (which weights to initialise, which
# to tie): two loads at once in one process break each other (measured: three threads loading a model with tied
# embeddings, every one left its head on the meta device). The service loads the LLM, the encoder and the head in
# background threads, so every load takes this lock.
_LOADING = threading.RLock()


@contextmanager
def loading_weights(quiet: bool = True) -> Iterator[None]:
    """Load model weights, one load at a time in this process. `quiet`: without transformers' per-tensor
    progress bar, which takes milliseconds and would print on every CLI run and service start (the slow one-time
    GGUF conversion keeps its bar)."""
    from transformers.utils import logging as hf_logging

    with _LOADING:
        was_enabled = hf_logging.is_progress_bar_enabled()
        if quiet:
            hf_logging.disable_progress_bar()
        try:
            yield
        finally:
            if quiet and was_enabled:
                hf_logging.enable_progress_bar()
