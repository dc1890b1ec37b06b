"""Remote names, repo ids and Hub references are validated before anything touches disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollama_forge.errors import UnsafeNameError, UsageError
from ollama_forge.hub.names import safe_join, validate_remote_filename, validate_repo_id
from ollama_forge.hub.refs import HubRef, looks_like_hub_ref, parse_ref

BAD_NAMES = [
    "../x.gguf",
    "a/../../x",
    "a/..\\..\\x",
    "/etc/passwd",
    "C:\\x",
    "C:/x.gguf",
    "D:foo",
    "\\x",
    "\\\\host\\share\\x",
    "",
    "a//b.gguf",
    "./a.gguf",
    "a/./b.gguf",
    "a/..",
    "nul\x00.gguf",
    "esc\x1b[31m.gguf",
    "line\nbreak.gguf",
    "x" * 256 + ".gguf",
    "dir/" + "é" * 128,  # 256 bytes in UTF-8
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_unsafe_remote_names_are_refused(name: str) -> None:
    with pytest.raises(UnsafeNameError) as info:
        validate_remote_filename(name)
    assert info.value.hint


@pytest.mark.parametrize(
    "name", ["model-Q4_K_M.gguf", "Q8_0/model-Q8_0-00001-of-00002.gguf", "a..b.gguf", "x" * 255]
)
def test_safe_remote_names_pass(name: str) -> None:
    assert validate_remote_filename(name) == name


def test_safe_join_stays_inside(tmp_path: Path) -> None:
    assert safe_join(tmp_path, "a/b.gguf") == tmp_path / "a" / "b.gguf"
    with pytest.raises(UnsafeNameError):
        safe_join(tmp_path, "a/../../b.gguf")


@pytest.mark.parametrize("repo", ["owner/name", "ggml-org/gemma-3-270m-GGUF", "a/b.c", "gpt2"])
def test_valid_repo_ids(repo: str) -> None:
    assert validate_repo_id(repo) == repo


@pytest.mark.parametrize(
    "repo",
    [
        "a/b/c",
        "-a/b",
        "a/b-",
        "a/.b",
        "a--b/c",
        "a/b..c",
        "a/b.git",
        "a b/c",
        "",
        "a/" + "x" * 97,
        "ä/b",
    ],
)
def test_invalid_repo_ids(repo: str) -> None:
    with pytest.raises(UsageError):
        validate_repo_id(repo)


def test_parse_ref_forms() -> None:
    assert parse_ref("owner/repo") == HubRef("owner/repo")
    assert parse_ref("owner/repo:q4_k_m") == HubRef("owner/repo", quant="q4_k_m")
    assert parse_ref("owner/repo@v1.0") == HubRef("owner/repo", revision="v1.0")
    assert parse_ref("owner/repo:Q8_0@refs/pr/1") == HubRef(
        "owner/repo", quant="Q8_0", revision="refs/pr/1"
    )
    assert parse_ref("hf.co/owner/repo:Q8_0") == HubRef("owner/repo", quant="Q8_0")
    assert parse_ref("https://huggingface.co/owner/repo") == HubRef("owner/repo")
    assert str(parse_ref("owner/repo:Q8_0@main")) == "owner/repo:Q8_0@main"
    assert parse_ref("owner/repo@v2:Q8_0") == HubRef("owner/repo", quant="Q8_0", revision="v2")
    assert parse_ref("owner/repo").rev == "main"


@pytest.mark.parametrize(
    "text",
    ["repo", "a/b/c", "owner/repo:", "owner/repo@", "owner/repo@../x", "owner/re po", "../x/y"],
)
def test_parse_ref_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_ref(text)


def test_quant_not_allowed_where_listing() -> None:
    with pytest.raises(UsageError):
        parse_ref("owner/repo:Q4_K_M", allow_quant=False)


def test_looks_like_hub_ref() -> None:
    assert looks_like_hub_ref("owner/repo:Q4_K_M")
    assert not looks_like_hub_ref("models/x.gguf")
    assert not looks_like_hub_ref("just-a-name")


def test_hub_modules_import_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, ollama_forge.hub.pull, ollama_forge.hub.quants, ollama_forge.hub.remote, "
        "ollama_forge.cli.hub_cmd; print(sorted(m for m in ('huggingface_hub', 'httpx', 'torch') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
