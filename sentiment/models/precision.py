"""Numeric formats a transformer can serve in: fp32, bf16 weights, or int8 dynamic quantisation of the linears."""

from __future__ import annotations

import torch

from sentiment.errors import ModelLoadError

PRECISIONS = ("auto", "fp32", "bf16", "int8")


def resolve_precision(precision: str) -> str:
    """``auto``: bf16 on CPUs with native bf16 matrix instructions (AVX512-BF16 or AMX), else fp32.

    Raises ``ModelLoadError`` for a name outside ``PRECISIONS``. Why bf16 by default and never int8 automatically (its
    agreement with fp32): ``benchmarks/README.md``, ``throughput.py``.
    """
    if precision not in PRECISIONS:
        raise ModelLoadError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    cpu = torch.cpu
    native_bf16 = (
        getattr(cpu, "_is_avx512_bf16_supported", lambda: False)()
        or getattr(cpu, "_is_amx_tile_supported", lambda: False)()
    )
    return "bf16" if native_bf16 and not torch.cuda.is_available() else "fp32"


def apply_precision(model: torch.nn.Module, precision: str) -> torch.nn.Module:
    """The model in the requested numeric format: ``fp32`` unchanged, ``bf16`` weights, or ``int8`` by PyTorch's
    dynamic quantisation of every ``nn.Linear`` (weights int8, activations quantised per batch at run time)."""
    if precision == "bf16":
        return model.to(torch.bfloat16)
    if precision == "int8":
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return model
