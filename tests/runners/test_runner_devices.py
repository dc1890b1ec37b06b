"""Device / dtype selection, driven by what torch reports (its own functions are patched,
never forge's): every CUDA / MPS / CPU availability combination and the error paths."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from ollama_forge.errors import DeviceError  # noqa: E402
from ollama_forge.runners.devices import choose, resolve_device, resolve_dtype  # noqa: E402

pytestmark = pytest.mark.hf


class FakeBF16:
    """torch.cuda.is_bf16_supported: native support only when ``native``; emulation always."""

    def __init__(self, native: bool) -> None:
        self.native = native
        self.calls: list[dict[str, Any]] = []

    def __call__(self, including_emulation: bool = True) -> bool:
        self.calls.append({"including_emulation": including_emulation})
        return True if including_emulation else self.native


def machine(
    monkeypatch: pytest.MonkeyPatch,
    *,
    cuda: bool = False,
    cuda_count: int = 1,
    cuda_build: str | None = "12.8",
    bf16_native: bool = True,
    mps: bool = False,
    mps_built: bool | None = None,
) -> FakeBF16:
    bf16 = FakeBF16(bf16_native)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda_count if cuda else 0)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", bf16)
    monkeypatch.setattr(torch.version, "cuda", cuda_build)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    monkeypatch.setattr(
        torch.backends.mps, "is_built", lambda: mps if mps_built is None else mps_built
    )
    monkeypatch.delenv("PYTORCH_ENABLE_MPS_FALLBACK", raising=False)
    return bf16


@pytest.mark.parametrize(
    ("cuda", "mps", "bf16_native", "device", "dtype"),
    [
        (True, True, True, "cuda:0", "bfloat16"),  # CUDA wins over MPS
        (True, False, True, "cuda:0", "bfloat16"),  # Ampere+: native bf16
        (True, False, False, "cuda:0", "float16"),  # pre-Ampere: bf16 only emulated -> fp16
        (False, True, True, "mps", "float16"),
        (False, False, True, "cpu", "float32"),
    ],
)
def test_auto_selection(
    monkeypatch: pytest.MonkeyPatch,
    cuda: bool,
    mps: bool,
    bf16_native: bool,
    device: str,
    dtype: str,
) -> None:
    bf16 = machine(monkeypatch, cuda=cuda, mps=mps, bf16_native=bf16_native)
    choice = choose("auto", "auto")
    assert (choice.device, choice.dtype) == (device, dtype)
    if device.startswith("cuda"):
        # the emulation-inclusive default would say True on every GPU: forge must not ask that
        assert bf16.calls and all(call == {"including_emulation": False} for call in bf16.calls)
    assert choice.available[-1] == "cpu"
    assert ("mps" in choice.available) == mps


def test_mps_sets_fallback_env(monkeypatch: pytest.MonkeyPatch) -> None:
    machine(monkeypatch, mps=True)
    assert choose("mps").device == "mps"
    assert os.environ["PYTORCH_ENABLE_MPS_FALLBACK"] == "1"


def test_cpu_does_not_set_mps_env(monkeypatch: pytest.MonkeyPatch) -> None:
    machine(monkeypatch)
    choose("auto")
    assert "PYTORCH_ENABLE_MPS_FALLBACK" not in os.environ


def test_mps_requested_on_build_without_mps(monkeypatch: pytest.MonkeyPatch) -> None:
    machine(monkeypatch, mps=False, mps_built=False)
    with pytest.raises(DeviceError) as info:
        resolve_device("mps")
    assert info.value.message == "mps requested but this torch build has no MPS; available: cpu"
    assert info.value.hint and "cpu" in info.value.hint


def test_mps_built_but_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    machine(monkeypatch, cuda=True, mps=False, mps_built=True)
    with pytest.raises(DeviceError) as info:
        resolve_device("mps")
    assert "is_available() is False" in info.value.message
    assert info.value.message.endswith("available: cuda:0, cpu")


def test_cuda_requested_on_cpu_build(monkeypatch: pytest.MonkeyPatch) -> None:
    machine(monkeypatch, cuda=False, cuda_build=None, mps=True)
    with pytest.raises(DeviceError) as info:
        resolve_device("cuda")
    assert "has no CUDA" in info.value.message
    assert info.value.message.endswith("available: mps, cpu")
    assert info.value.fields["available"] == ["mps", "cpu"]


def test_cuda_build_without_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    machine(monkeypatch, cuda=False, cuda_build="12.8")
    with pytest.raises(DeviceError) as info:
        resolve_device("cuda:0")
    assert "torch.cuda.is_available() is False" in info.value.message
    assert info.value.hint and "nvidia-smi" in info.value.hint


def test_cuda_index(monkeypatch: pytest.MonkeyPatch) -> None:
    machine(monkeypatch, cuda=True, cuda_count=2)
    assert resolve_device("cuda") == "cuda:0"
    assert resolve_device("CUDA:1") == "cuda:1"
    with pytest.raises(DeviceError, match="sees 2 CUDA device"):
        resolve_device("cuda:2")


def test_unknown_device(monkeypatch: pytest.MonkeyPatch) -> None:
    machine(monkeypatch)
    with pytest.raises(DeviceError, match="Unknown device 'tpu'; available: cpu"):
        resolve_device("tpu")


def test_explicit_dtypes(monkeypatch: pytest.MonkeyPatch) -> None:
    machine(monkeypatch, cuda=True, bf16_native=False)
    assert resolve_dtype("cpu", "fp32") == ("float32", [])
    dtype, warnings = resolve_dtype("cpu", "bf16")
    assert dtype == "bfloat16" and "slower" in warnings[0]
    dtype, warnings = resolve_dtype("cuda:0", "bfloat16")
    assert dtype == "bfloat16" and "emulated" in warnings[0]
    assert resolve_dtype("mps", "half") == ("float16", [])
    with pytest.raises(DeviceError, match="Unknown dtype 'int8'"):
        resolve_dtype("cpu", "int8")


def test_pipeline_fails_before_loading(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An unavailable device is refused before any model is read (the folder does not even exist)."""
    pytest.importorskip("transformers")
    from ollama_forge.runners.hf import hf_pipeline

    machine(monkeypatch, mps=False, mps_built=False)
    with pytest.raises(DeviceError, match="mps requested"):
        hf_pipeline(tmp_path / "missing-model", device="mps")


def test_missing_hf_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from ollama_forge.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingExtraError) as info:
        choose("auto")
    assert info.value.hint and "hf-ollama-forge[hf]" in info.value.hint
