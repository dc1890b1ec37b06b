"""Where a registered TEMPLATE came from: recorded when forge saves a Modelfile, never read from comments."""

from __future__ import annotations

from pathlib import Path

import pytest
from ggufs import write_gguf
from servers.ollama_server import OllamaServer

import ollama_forge as forge
from ollama_forge.store import Store, StoredFile, StoredModel
from ollama_forge.workflows.plan import plan_modelfile
from ollama_forge.workflows.register import register

# a chat format no family knows: forge synthesises its TEMPLATE
NOVEL = (
    "{% for m in messages %}<|turn|>{{ m['role'] }}:{{ m['content'] }}<|done|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|turn|>assistant:{% endif %}"
)


@pytest.fixture
def novel_gguf(tmp_path: Path) -> Path:
    return write_gguf(
        tmp_path / "models" / "novel" / "novel-q4_k_m.gguf",
        arch="mystery",
        name="Novel",
        tokens=["<unk>", "<s>", "</s>", "<|turn|>", "<|done|>"],
        eos="<|done|>",
        chat_template=NOVEL,
    )


def _last_source(name: str) -> str | None:
    return Store().get(name).registrations[-1].template_source


def test_a_notebook_saved_synthesized_modelfile_registers_as_synthesized(
    server: OllamaServer, novel_gguf: Path
) -> None:
    target = novel_gguf.parent / "Modelfile"
    forge.build_modelfile(novel_gguf, modelfile_dir=novel_gguf.parent).save(target)
    record = Store().load().modelfiles[str(target.resolve())]
    assert record.template_source == "synthesized" and record.store_name is None
    register("novel", modelfile=target)
    assert _last_source("novel") == "synthesized"  # was "family:none", guessed from a comment


def test_an_edited_modelfile_is_the_users(server: OllamaServer, novel_gguf: Path) -> None:
    target = novel_gguf.parent / "Modelfile"
    plan_modelfile(novel_gguf, modelfile_dir=novel_gguf.parent).modelfile.save(target)
    target.write_text(
        target.read_text(encoding="utf-8") + "PARAMETER temperature 0.1\n", encoding="utf-8"
    )
    register("novel", modelfile=target)
    assert _last_source("novel") == "user"


def test_comment_lines_cannot_claim_a_template_source(
    server: OllamaServer, novel_gguf: Path
) -> None:
    planned = plan_modelfile(novel_gguf, modelfile_dir=novel_gguf.parent).modelfile
    forged = novel_gguf.parent / "Modelfile"
    # the same text, written by hand: comments saying family/template source count for nothing
    forged.write_text(
        "# template source: family:llama3\n# family: llama3\n" + planned.render(), encoding="utf-8"
    )
    register("novel", modelfile=forged)
    assert _last_source("novel") == "user"


def test_saving_a_stored_models_plan_makes_it_the_models_modelfile(
    server: OllamaServer, novel_gguf: Path
) -> None:
    Store().put(
        StoredModel(
            name="novel",
            files=[StoredFile(path=str(novel_gguf), size=novel_gguf.stat().st_size)],
        )
    )
    target = novel_gguf.parent / "Modelfile"
    result = plan_modelfile("novel", modelfile_dir=novel_gguf.parent)
    assert result.modelfile.plan is not None and result.modelfile.plan.store_name == "novel"
    result.modelfile.save(target)
    assert Store().get("novel").modelfile_path == str(target.absolute())
    register("novel")  # NAME alone: the stored model's written Modelfile
    assert _last_source("novel") == "synthesized"
    assert Store().get("novel").registrations[-1].source.endswith("Modelfile)")


def test_a_changed_modelfile_object_is_no_longer_forges_plan(novel_gguf: Path) -> None:
    modelfile = plan_modelfile(novel_gguf).modelfile
    assert modelfile.plan is not None
    assert modelfile.with_updates(system="be brief").plan is None
    assert forge.parse_modelfile(modelfile.render()).plan is None
