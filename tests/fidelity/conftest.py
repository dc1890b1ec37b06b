"""The Go conformance harness fixture, shared with tests/gotemplate (built once per session)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "forge_go_harness_conftest", Path(__file__).resolve().parents[1] / "gotemplate" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)

go_harness = _module.go_harness
