"""Fixtures for the family tests: one GGUF per family case, written once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from family_cases import Case, write_case


@pytest.fixture(scope="session")
def case_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("family-cases")


@pytest.fixture(scope="session")
def case_gguf(case_dir: Path):  # type: ignore[no-untyped-def]
    """case -> path of its GGUF (cached for the session)."""
    cache: dict[str, Path] = {}

    def get(case: Case) -> Path:
        if case.id not in cache:
            cache[case.id] = write_case(case, case_dir)
        return cache[case.id]

    return get
