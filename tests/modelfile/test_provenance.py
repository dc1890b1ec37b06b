"""A forge-written Modelfile may hold RENDERER/PARSER only as the allowlisted pair for its GGUF."""

from __future__ import annotations

from pathlib import Path

import pytest
from ggufs import write_gguf, write_projector

from ollama_forge.modelfile import Modelfile, parse_modelfile
from ollama_forge.modelfile.provenance import FORGE_MARKER
from ollama_forge.modelfile.provenance import unexpected_instructions as _unexpected
from ollama_forge.workflows.register_sources import builtin_pair_of as builtin_pair


def unexpected_instructions(mf: Modelfile) -> list[str]:
    """What registration and verification check: the pair comes from the FROM GGUF."""
    return _unexpected(mf, builtin=builtin_pair(mf))


def _mf(folder: Path, body: str) -> Modelfile:
    return parse_modelfile(f"# {FORGE_MARKER} 0 for m.gguf\n{body}", base_dir=folder)


@pytest.fixture
def gemma4(tmp_path: Path) -> Path:
    write_gguf(tmp_path / "m.gguf", arch="gemma4")
    return tmp_path


def test_the_allowlisted_pair_is_accepted(gemma4: Path) -> None:
    mf = _mf(gemma4, "FROM ./m.gguf\nRENDERER gemma4\nPARSER gemma4\n")
    assert builtin_pair(mf) == ("gemma4", ("gemma4", "gemma4"))
    assert unexpected_instructions(mf) == []


@pytest.mark.parametrize(
    "lines",
    [
        "RENDERER laguna\nPARSER laguna\n",  # another architecture's pair
        "RENDERER gemma4\nPARSER qwen3\n",  # half of it
        "RENDERER gemma4\n",  # one line only
        "PARSER gemma4\n",
        "RENDERER nemotron-3-nano\nPARSER gemma4\n",
    ],
)
def test_anything_else_is_refused(gemma4: Path, lines: str) -> None:
    mf = _mf(gemma4, "FROM ./m.gguf\n" + lines)
    found = unexpected_instructions(mf)
    assert found and all("forge writes exactly RENDERER gemma4 / PARSER gemma4" in f for f in found)


def test_a_renderer_on_an_architecture_ollama_does_not_render_is_refused(tmp_path: Path) -> None:
    write_gguf(tmp_path / "m.gguf", arch="llama")
    mf = _mf(tmp_path, "FROM ./m.gguf\nRENDERER gemma4\nPARSER gemma4\n")
    found = unexpected_instructions(mf)
    assert found == [
        "RENDERER gemma4 (forge writes none for architecture llama)",
        "PARSER gemma4 (forge writes none for architecture llama)",
    ]


def test_the_architecture_comes_from_the_gguf_not_from_comments(tmp_path: Path) -> None:
    write_gguf(tmp_path / "m.gguf", arch="llama")
    mf = parse_modelfile(
        f"# {FORGE_MARKER} 0 for m.gguf\n# architecture gemma4\nFROM ./m.gguf\n"
        "RENDERER gemma4\nPARSER gemma4\n",
        base_dir=tmp_path,
    )
    assert unexpected_instructions(mf)


def test_a_projector_is_skipped_and_a_missing_gguf_allows_nothing(gemma4: Path) -> None:
    write_projector(gemma4 / "mmproj.gguf")
    mf = _mf(gemma4, "FROM ./mmproj.gguf\nFROM ./m.gguf\nRENDERER gemma4\nPARSER gemma4\n")
    assert unexpected_instructions(mf) == []
    missing = _mf(gemma4, "FROM ./absent.gguf\nRENDERER gemma4\nPARSER gemma4\n")
    assert builtin_pair(missing) == (None, None)
    assert any("unknown (no FROM GGUF read)" in f for f in unexpected_instructions(missing))
    (gemma4 / "fake.gguf").write_bytes(b"GGUF" + b"\x00" * 8)
    broken = _mf(gemma4, "FROM ./fake.gguf\nRENDERER gemma4\nPARSER gemma4\n")
    assert unexpected_instructions(broken)
