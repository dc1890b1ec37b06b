"""GGUFs whose architecture Ollama renders itself: planned RENDERER/PARSER, verify, register."""

from __future__ import annotations

from pathlib import Path

import pytest
from ggufs import chatml_gguf, write_gguf
from servers.ollama_server import OllamaServer

from ollama_forge.errors import ModelfileError
from ollama_forge.modelfile import parse_modelfile
from ollama_forge.workflows.plan import plan_modelfile

CHATML_JINJA = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
# no family or synthesis reproduces this one: the built-in renderer still needs no Go TEMPLATE
ODD_JINJA = "{% for m in messages %}{{ m['content'] | reverse | join('') }}{% endfor %}"
PAIRS = {
    "gemma4": ("gemma4", "gemma4"),
    "laguna": ("laguna", "laguna"),
    "nemotron_h": ("nemotron-3-nano", "nemotron-3-nano"),
}


@pytest.mark.parametrize("arch", sorted(PAIRS))
def test_planned_modelfile_writes_the_allowlisted_pair(tmp_path: Path, arch: str) -> None:
    gguf = chatml_gguf(tmp_path / f"{arch}.gguf", CHATML_JINJA, arch=arch, name="T")
    result = plan_modelfile(gguf, use_free_memory=False)
    mf = result.modelfile
    assert (mf.renderer, mf.parser) == PAIRS[arch]
    assert mf.template is None and result.template_source == "builtin_renderer"
    assert result.path_choice.template_path == "builtin_renderer"
    text = mf.render()
    assert f"RENDERER {PAIRS[arch][0]}\nPARSER {PAIRS[arch][1]}\n" in text
    assert "# template path: builtin_renderer" in text and "byte for byte" in text
    back = parse_modelfile(text, base_dir=tmp_path)
    assert (back.renderer, back.parser, back.template) == (*PAIRS[arch], None)
    assert back.comments == mf.comments


def test_template_path_go_keeps_the_template_and_warns(tmp_path: Path) -> None:
    gguf = chatml_gguf(tmp_path / "g.gguf", CHATML_JINJA, arch="gemma4", name="T")
    result = plan_modelfile(gguf, template_path="go", use_free_memory=False)
    assert result.modelfile.template and result.modelfile.renderer is None
    assert any("bypasses this TEMPLATE" in w for w in result.warnings)
    assert "server path >= 0.30: builtin" in result.modelfile.render()


def test_no_verified_go_template_is_needed_for_the_builtin_renderer(tmp_path: Path) -> None:
    gguf = chatml_gguf(tmp_path / "g.gguf", ODD_JINJA, arch="gemma4", name="T")
    result = plan_modelfile(gguf, use_free_memory=False)
    assert (result.modelfile.renderer, result.modelfile.template) == ("gemma4", None)
    assert result.verified is None


def test_verify_reports_what_it_did_not_compare(tmp_path: Path) -> None:
    from ollama_forge.workflows.verify import verify

    gguf = chatml_gguf(tmp_path / "g.gguf", CHATML_JINJA, arch="laguna", name="T")
    plan_modelfile(gguf, modelfile_dir=tmp_path, use_free_memory=False).modelfile.save(
        tmp_path / "Modelfile"
    )
    for target in (gguf, tmp_path / "Modelfile"):
        report = verify(target)
        assert report.template_path == "builtin_renderer"
        assert report.not_compared is not None
        assert "renderer:laguna" in report.not_compared
        assert "forge does not compare byte for byte" in report.not_compared
        assert report.model_dump(mode="json")["not_compared"] == report.not_compared


def test_registration_sends_the_pair_and_show_reports_it(
    server: OllamaServer, tmp_path: Path
) -> None:
    from ollama_forge.ollama.models import show
    from ollama_forge.workflows.register import register

    gguf = chatml_gguf(tmp_path / "g.gguf", CHATML_JINJA, arch="gemma4", name="T")
    mf_path = tmp_path / "Modelfile"
    plan_modelfile(gguf, modelfile_dir=tmp_path, use_free_memory=False).modelfile.save(mf_path)
    result = register("g4", modelfile=mf_path)
    body = server.state.requests_to("POST", "/api/create")[0].json
    assert (body["renderer"], body["parser"]) == ("gemma4", "gemma4")
    assert "template" not in body
    assert result.template.path == "renderer"
    shown = show("g4")
    assert "RENDERER gemma4\nPARSER gemma4\n" in shown.modelfile
    # the planned source (GGUF path) goes through the same provenance check
    assert register("g4b", str(gguf), dry_run=True).requests[-1].json_body["renderer"] == "gemma4"


def test_a_crafted_pair_is_refused_before_any_request(server: OllamaServer, tmp_path: Path) -> None:
    from ollama_forge.workflows.register import register

    gguf = chatml_gguf(tmp_path / "g.gguf", CHATML_JINJA, arch="gemma4", name="T")
    mf_path = tmp_path / "Modelfile"
    plan_modelfile(gguf, modelfile_dir=tmp_path, use_free_memory=False).modelfile.save(mf_path)
    mf_path.write_text(mf_path.read_text().replace("RENDERER gemma4", "RENDERER qwen3-coder"))
    with pytest.raises(ModelfileError, match="edited or crafted"):
        register("g4", modelfile=mf_path)
    assert server.state.requests == []


def test_a_base_model_of_a_self_rendered_architecture_is_warned(tmp_path: Path) -> None:
    # no chat template: forge writes {{ .Prompt }}, but create's auto-set still gives the pair
    gguf = write_gguf(tmp_path / "base.gguf", arch="gemma4", chat_template=None)
    result = plan_modelfile(gguf, use_free_memory=False)
    assert result.modelfile.template == "{{ .Prompt }}" and result.modelfile.renderer is None
    assert any("RENDERER gemma4 / PARSER gemma4 at create" in w for w in result.warnings)
    plain = plan_modelfile(
        write_gguf(tmp_path / "llama.gguf", chat_template=None), use_free_memory=False
    )
    assert not any("at create" in w for w in plain.warnings)
