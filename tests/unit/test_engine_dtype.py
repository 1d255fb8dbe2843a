"""engine.dtype "auto" on a CPU that emulates bfloat16 is float32 (10x faster there)."""

from __future__ import annotations

import pytest

from aicockpit.config import EngineConfig
from aicockpit.engine import vllm_local
from aicockpit.engine.vllm_local import cpu_computes_bf16, engine_dtype

AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 fma\n"
WITH_BF16 = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n"


def test_the_cpu_flags_decide():
    assert not cpu_computes_bf16(AVX2_ONLY)
    assert cpu_computes_bf16(WITH_BF16)
    assert cpu_computes_bf16("processor\t: 0\nFeatures\t: fp asimd bf16\n")  # no x86 flags: vLLM decides


@pytest.mark.parametrize(
    "dtype, accelerator, native, expected",
    [
        ("auto", False, False, "float32"),
        ("auto", False, True, "auto"),
        ("auto", True, False, "auto"),  # a GPU computes bfloat16
        ("bfloat16", False, False, "bfloat16"),  # the user's choice stands
    ],
)
def test_auto_is_float32_only_where_bfloat16_is_emulated(monkeypatch, dtype, accelerator, native, expected):
    monkeypatch.setattr(vllm_local, "cpu_computes_bf16", lambda: native)
    assert engine_dtype(EngineConfig(dtype=dtype), accelerator) == expected
