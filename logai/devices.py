"""Where a model runs and in what precision: CUDA when present; bf16 where the hardware computes it natively
(CUDA, CPUs with AVX512-BF16 or AMX), float32 elsewhere. Shared by the LLM and the small model."""

from __future__ import annotations

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
