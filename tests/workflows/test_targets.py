"""workflows.targets: one resolver for every way a user names a model, and one header read per command."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ggufs import chatml_vocab, write_gguf, write_projector

from ollama_forge.errors import ModelNotFoundError, NotFoundError, UsageError
from ollama_forge.store import Store, StoredFile, StoredModel
from ollama_forge.workflows.targets import resolve_target

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] "
    "+ '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
ALL = ("gguf", "modelfile", "stored")


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "models" / "tiny"
    write_gguf(
        folder / "tiny-q4_k_m.gguf",
        arch="qwen2",
        chat_template=CHATML,
        tokens=chatml_vocab(),
        eos="<|im_end|>",
    )
    return folder


def test_a_gguf_path_is_a_gguf_with_its_shards_and_sibling_projector(model_dir: Path) -> None:
    write_projector(model_dir / "mmproj-tiny-f16.gguf")
    target = resolve_target(str(model_dir / "tiny-q4_k_m.gguf"), accept=ALL)
    assert target.kind == "gguf"
    assert target.weights == [(model_dir / "tiny-q4_k_m.gguf").absolute()]
    assert target.projector == (model_dir / "mmproj-tiny-f16.gguf").absolute()
    assert target.projector_note and "mmproj" in target.projector_note


def test_a_sibling_that_is_not_a_projector_is_reported_not_used(model_dir: Path) -> None:
    write_gguf(model_dir / "mmproj-fake.gguf", arch="llama")
    target = resolve_target(model_dir / "tiny-q4_k_m.gguf")
    assert target.projector is None
    assert any("not a projector" in note for note in target.ignored)


def test_a_folder_is_its_modelfile_when_the_command_takes_one_else_its_model(
    model_dir: Path,
) -> None:
    (model_dir / "Modelfile").write_text("FROM ./tiny-q4_k_m.gguf\n", encoding="utf-8")
    as_modelfile = resolve_target(model_dir, accept=ALL)
    assert as_modelfile.kind == "modelfile"
    assert as_modelfile.modelfile_path == (model_dir / "Modelfile").absolute()
    assert as_modelfile.entry == (model_dir / "tiny-q4_k_m.gguf").absolute()
    as_gguf = resolve_target(model_dir, accept=("gguf",))
    assert as_gguf.kind == "gguf" and as_gguf.entry.name == "tiny-q4_k_m.gguf"


def test_a_folder_with_two_models_or_none_is_a_clear_error(tmp_path: Path, model_dir: Path) -> None:
    write_gguf(model_dir / "other.gguf")
    with pytest.raises(UsageError, match="several GGUF models"):
        resolve_target(model_dir)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match=r"no model \.gguf file and no Modelfile"):
        resolve_target(empty, accept=ALL)


def test_a_file_is_a_gguf_by_name_or_magic_else_a_modelfile(model_dir: Path) -> None:
    renamed = model_dir / "weights.bin"
    renamed.write_bytes((model_dir / "tiny-q4_k_m.gguf").read_bytes())
    assert resolve_target(renamed, accept=ALL).kind == "gguf"
    modelfile = model_dir / "Chatfile"
    modelfile.write_text("FROM ./tiny-q4_k_m.gguf\nSYSTEM hi\n", encoding="utf-8")
    target = resolve_target(modelfile, accept=ALL)
    assert target.kind == "modelfile" and target.modelfile is not None
    assert target.modelfile.system == "hi"


def test_render_reads_template_text_that_is_not_a_modelfile(tmp_path: Path) -> None:
    template = tmp_path / "chat.tmpl"
    template.write_text("{{ .Prompt }}", encoding="utf-8")
    accept = ("gguf", "modelfile", "stored", "text")
    assert resolve_target(template, accept=accept).content == "{{ .Prompt }}"
    inline = resolve_target("{{ .System }}", accept=accept)
    assert inline.kind == "text" and inline.content == "{{ .System }}"
    with pytest.raises(NotFoundError):
        resolve_target("{{ .System }}", accept=ALL)


def test_a_stored_name_gives_its_files_projector_and_written_modelfile(model_dir: Path) -> None:
    projector = write_projector(model_dir / "mmproj-tiny-f16.gguf")
    (model_dir / "Modelfile").write_text("FROM ./tiny-q4_k_m.gguf\n", encoding="utf-8")
    Store().put(
        StoredModel(
            name="tiny",
            repo="owner/Tiny-GGUF",
            files=[
                StoredFile(path=str(model_dir / "tiny-q4_k_m.gguf"), size=1),
                StoredFile(role="projector", path=str(projector), size=1),
            ],
            modelfile_path=str(model_dir / "Modelfile"),
        )
    )
    target = resolve_target("tiny", accept=ALL)
    assert (target.kind, target.store_name, target.repo) == ("stored", "tiny", "owner/Tiny-GGUF")
    assert target.projector == projector
    assert target.projector_note == "recorded for stored model tiny"
    assert target.modelfile is not None and target.modelfile_path == model_dir / "Modelfile"
    # commands that plan from the GGUF do not read the Modelfile at all
    (model_dir / "Modelfile").write_text("FROM\n", encoding="utf-8")
    assert resolve_target("tiny", accept=("gguf", "stored")).modelfile is None


def test_a_name_nobody_knows_lists_what_was_tried(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        resolve_target("nothing", accept=ALL)
    assert "a GGUF file" in info.value.message and "forge's store" in info.value.message
    assert "forge list" in (info.value.hint or "")
    hub = resolve_target("owner/repo:Q4_K_M", accept=("gguf", "stored", "hub"))
    assert hub.kind == "hub" and hub.hub_ref == "owner/repo:Q4_K_M"


def test_projector_flag_needs_a_model(model_dir: Path) -> None:
    (model_dir / "Modelfile").write_text("FROM ./tiny-q4_k_m.gguf\n", encoding="utf-8")
    with pytest.raises(UsageError, match="--projector"):
        resolve_target(model_dir / "Modelfile", accept=ALL, projector=model_dir / "x.gguf")


def test_every_command_takes_a_folder_the_same_way(model_dir: Path) -> None:
    from ollama_forge.workflows.chat import resolve_model
    from ollama_forge.workflows.inspect import inspect
    from ollama_forge.workflows.plan import plan_modelfile
    from ollama_forge.workflows.verify import verify

    entry = (model_dir / "tiny-q4_k_m.gguf").absolute()
    assert plan_modelfile(model_dir, use_free_memory=False).source.entry == entry
    assert inspect(model_dir).info.architecture == "qwen2"
    assert resolve_model(model_dir).gguf_path == entry
    assert verify(model_dir).matched


# --- one header read per command ---------------------------------------------------------------


class _Opens:
    """Counts opens of one file through an audit hook (hooks cannot be removed: it is switched off)."""

    active: _Opens | None = None
    installed = False

    def __init__(self, path: Path) -> None:
        self.path = os.path.realpath(path)
        self.count = 0

    @classmethod
    def _hook(cls, event: str, args: tuple[object, ...]) -> None:
        counter = cls.active
        if counter is None or event != "open" or not args:
            return
        name = args[0]
        if isinstance(name, (str, bytes, os.PathLike)):
            try:
                if os.path.realpath(os.fsdecode(name)) == counter.path:
                    counter.count += 1
            except (TypeError, ValueError):
                pass


@pytest.fixture
def count_opens() -> Iterator[type[_Opens]]:
    if not _Opens.installed:
        sys.addaudithook(_Opens._hook)
        _Opens.installed = True
    yield _Opens
    _Opens.active = None


def _forge(*args: str) -> int:
    from click.testing import CliRunner

    from ollama_forge.cli import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False).exit_code


@pytest.mark.parametrize(
    "command",
    [
        ("register", "tiny", "{gguf}", "--dry-run"),
        ("verify", "{gguf}"),
        ("modelfile", "{gguf}"),
        ("inspect", "{gguf}"),
        ("render", "{gguf}", "--messages", '[{"role": "user", "content": "hi"}]'),
    ],
    ids=lambda c: c[0],
)
def test_each_command_opens_the_gguf_once(
    model_dir: Path, count_opens: type[_Opens], command: tuple[str, ...]
) -> None:
    from ollama_forge.gguf import reader

    gguf = model_dir / "tiny-q4_k_m.gguf"
    # a pulled model's digest is known (register hashes other files for the upload: not a header read)
    Store().remember_sha256(
        gguf, hashlib.sha256(gguf.read_bytes()).hexdigest(), source="hub-verified"
    )
    reader._INFO_CACHE.clear()  # a fresh process
    counter = count_opens(gguf)
    count_opens.active = counter
    code = _forge(*(a.replace("{gguf}", str(gguf)) for a in command))
    count_opens.active = None
    assert code == 0
    assert counter.count == 1
