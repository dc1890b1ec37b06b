"""The Modelfile model: CreateRequest semantics, paths, create body, copies, display."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollama_forge.errors import ModelfileError, ModelfileParseError, ParameterError
from ollama_forge.modelfile import (
    Message,
    Modelfile,
    expand_path,
    looks_like_path,
    parse_modelfile,
    read_modelfile,
)

FULL = '''# forge: family=chatml
#   kept indentation
FROM ./weights/model.gguf
FROM ./weights/mmproj.gguf
TEMPLATE first
TEMPLATE """{{ .System }}
{{ .Prompt }}"""
SYSTEM """You are "forge"."""
PARAMETER stop <|im_end|>
PARAMETER num_ctx 8192
PARAMETER stop "<|endoftext|>"
PARAMETER temperature 0.6
MESSAGE user What is 2+2?
MESSAGE assistant 4: obviously
LICENSE MIT
LICENSE """Second
license"""
REQUIRES v0.14.0
RENDERER qwen3-coder
PARSER qwen3-coder
ADAPTER ./lora.gguf
DRAFT ./draft.gguf
# a trailing comment is not a header
'''


def test_parse_applies_create_request_semantics(tmp_path: Path) -> None:
    mf = parse_modelfile(FULL, base_dir=tmp_path)
    assert mf.from_ == ["./weights/model.gguf", "./weights/mmproj.gguf"]
    assert mf.template == "{{ .System }}\n{{ .Prompt }}"  # last TEMPLATE wins
    assert mf.system == 'You are "forge".'
    assert mf.parameters == {
        "stop": ["<|im_end|>", "<|endoftext|>"],
        "num_ctx": 8192,
        "temperature": 0.6,
    }
    assert list(mf.parameters) == ["stop", "num_ctx", "temperature"]
    assert mf.messages == [
        Message(role="user", content="What is 2+2?"),
        Message(role="assistant", content="4: obviously"),
    ]
    assert mf.license == ["MIT", "Second\nlicense"]
    assert mf.requires == "0.14.0"
    assert (mf.renderer, mf.parser) == ("qwen3-coder", "qwen3-coder")
    assert mf.adapters == ["./lora.gguf"] and mf.draft == ["./draft.gguf"]
    assert mf.comments == ["forge: family=chatml", "  kept indentation"]
    assert mf.base_dir == tmp_path


def test_to_create_request_has_only_set_fields() -> None:
    mf = parse_modelfile(FULL)
    assert mf.to_create_request() == {
        "template": "{{ .System }}\n{{ .Prompt }}",
        "system": 'You are "forge".',
        "parameters": {
            "stop": ["<|im_end|>", "<|endoftext|>"],
            "num_ctx": 8192,
            "temperature": 0.6,
        },
        "messages": [
            {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": "4: obviously"},
        ],
        "license": ["MIT", "Second\nlicense"],
        "requires": "0.14.0",
        "renderer": "qwen3-coder",
        "parser": "qwen3-coder",
    }
    assert Modelfile(from_=["x"]).to_create_request() == {}
    assert Modelfile(from_=["x"], system="").to_create_request() == {"system": ""}


def test_message_content_may_be_empty() -> None:
    assert parse_modelfile("FROM x\nMESSAGE user \n").messages == [Message(role="user", content="")]


# golang.org/x/mod/semver also accepts the shorthands v1 and v1.2
@pytest.mark.parametrize("good", ["0.14.0", "v0.14.0", "1", "0.14", "1.2.3-rc.1+build.05"])
def test_requires_accepts_semver(good: str) -> None:
    assert parse_modelfile(f"FROM x\nREQUIRES {good}\n").requires == good.removeprefix("v")


@pytest.mark.parametrize("bad", ["latest", "01.2.3", "1.2-rc", "1.2.3.4", "vv1", "1.2.3-01"])
def test_requires_rejects_non_semver(bad: str) -> None:
    with pytest.raises(ModelfileParseError) as info:
        parse_modelfile(f"FROM x\n\nREQUIRES {bad}\n")
    assert info.value.message == "requires must be a valid semver (e.g. 0.14.0)"
    assert info.value.line == 3


def test_model_construction_validates() -> None:
    with pytest.raises(ParameterError, match="unknown parameter 'temp'"):
        Modelfile(from_=["x"], parameters={"temp": 1})
    with pytest.raises(ModelfileError, match="semver"):
        Modelfile(from_=["x"], requires="soon")
    mf = Modelfile(from_=["x"])
    with pytest.raises(ParameterError):
        mf.parameters = {"top_p": 7}  # assignment is validated too
    assert Modelfile.model_validate({"from": "x"}).from_ == ["x"]
    assert Modelfile(from_=Path("/m/a.gguf"), adapters=[Path("l.gguf")]).from_ == ["/m/a.gguf"]
    assert Modelfile(from_=["x"], adapters=[Path("l.gguf")]).adapters == ["l.gguf"]


# --- equality, copies, display ---------------------------------------------------------------------


def test_base_dir_is_excluded_from_equality_and_serialization(tmp_path: Path) -> None:
    a = parse_modelfile("FROM x\n", base_dir=tmp_path)
    b = parse_modelfile("FROM x\n", base_dir=tmp_path / "other")
    assert a == b
    assert "base_dir" not in a.model_dump()
    assert a != parse_modelfile("FROM y\n")


def test_with_updates_validates_and_keeps_base_dir(tmp_path: Path) -> None:
    mf = parse_modelfile("FROM x\nSYSTEM a\n", base_dir=tmp_path)
    new = mf.with_updates(system="b", parameters={"num_ctx": "4096"})
    assert (new.system, new.parameters, new.base_dir) == ("b", {"num_ctx": 4096}, tmp_path)
    assert mf.system == "a"
    assert mf.with_updates(**{"from": ["y"]}).from_ == ["y"]
    with pytest.raises(ModelfileError, match="Unknown Modelfile field"):
        mf.with_updates(sytem="typo")
    with pytest.raises(ParameterError):
        mf.with_updates(parameters={"num_ctx": 0})
    with pytest.raises(ModelfileError, match="Invalid Modelfile update"):
        mf.with_updates(messages=[{"role": "tool", "content": "x"}])


def test_repr_and_markdown_show_the_rendered_text() -> None:
    mf = Modelfile(from_=["./m.gguf"], system="be ```brief```")
    assert "FROM ./m.gguf" in repr(mf) and "SYSTEM be ```brief```" in repr(mf)
    md = mf._repr_markdown_()
    assert md.startswith("````text\n") and md.endswith("````\n")
    assert mf.render() in md
    broken = Modelfile(from_=["x"], system="a\rb")
    assert "not renderable" in repr(broken)
    assert str(mf) == mf.render()  # print(mf) shows the file itself
    assert str(broken) == repr(broken)


def test_save_writes_atomically_and_reads_back(tmp_path: Path) -> None:
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    target = tmp_path / "Modelfile"
    mf = Modelfile(from_=["./m.gguf"], system="multi\nline")
    assert mf.save(target) == target
    assert target.read_bytes() == mf.render().encode()
    assert read_modelfile(target) == mf
    assert read_modelfile(target).base_dir == tmp_path
    assert [p.name for p in tmp_path.iterdir()] == ["Modelfile"]  # no temp file left
    with pytest.raises(ModelfileError, match="Cannot read"):
        read_modelfile(tmp_path / "missing")


# --- paths ------------------------------------------------------------------------------------------


def test_expand_path_rules(tmp_path: Path) -> None:
    home = Path.home()
    assert expand_path("/abs/x.gguf", tmp_path) == Path("/abs/x.gguf")
    assert expand_path("~/m.gguf", tmp_path) == home / "m.gguf"
    assert expand_path("~", tmp_path) == home
    assert expand_path("m.gguf", tmp_path) == tmp_path / "m.gguf"
    assert expand_path("./a/../b.gguf", tmp_path) == tmp_path / "b.gguf"
    assert expand_path("m.gguf", None) == Path.cwd() / "m.gguf"
    with pytest.raises(ModelfileError, match="failed to find user 'no_such_user_forge'"):
        expand_path("~no_such_user_forge/x", tmp_path)


def test_relative_paths_resolve_against_the_modelfile_folder(tmp_path: Path) -> None:
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "model.gguf").write_bytes(b"GGUF")
    (tmp_path / "lora.gguf").write_bytes(b"GGUF")
    text = "FROM weights/model.gguf\nFROM llama3:8b\nADAPTER lora.gguf\nDRAFT ./d.gguf\n"
    mf = parse_modelfile(text, base_dir=tmp_path)
    assert mf.resolved_paths() == [
        tmp_path / "weights" / "model.gguf",
        tmp_path / "lora.gguf",
        tmp_path / "d.gguf",
    ]
    assert mf.local_from_problems() == []


def test_local_from_problems_flags_typos(tmp_path: Path) -> None:
    (tmp_path / "model.gguf").write_bytes(b"GGUF")
    mf = parse_modelfile("FROM ./modle.gguf\nFROM model.gguf\nFROM qwen2:7b\n", base_dir=tmp_path)
    problems = mf.local_from_problems()
    assert len(problems) == 1
    assert "./modle.gguf" in problems[0] and "model name" in problems[0]
    assert str(tmp_path / "modle.gguf") in problems[0]


def test_draft_equal_to_from_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    mf = Modelfile(from_=["m.gguf"], draft=["./m.gguf"], base_dir=tmp_path)
    assert mf.local_from_problems() == [
        f"DRAFT must not reference the same local path as FROM: {tmp_path / 'm.gguf'}"
    ]


@pytest.mark.parametrize(
    ("value", "is_path"),
    [
        ("./m.gguf", True),
        ("/abs/dir", True),
        ("~/m", True),
        ("model.gguf", True),
        ("weights/My Model.bin", True),
        (".", True),
        ("C:\\models\\m.gguf", True),
        ("llama3", False),
        ("llama3:8b", False),
        ("library/llama3:latest", False),
        ("hf.co/bartowski/Qwen2.5-7B-Instruct-GGUF:Q4_K_M", False),
    ],
)
def test_looks_like_path(value: str, is_path: bool) -> None:
    assert looks_like_path(value) is is_path
