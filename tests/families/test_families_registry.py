"""Family files: format, sandbox, built-in set, user folders (flag and env var)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from family_cases import CORPUS, write_case

from ollama_forge.errors import FamilyError
from ollama_forge.families import (
    builtin_dir,
    chat_template_sha256,
    detect_family,
    get_family,
    list_families,
    load_families,
    parse_family_file,
)
from ollama_forge.families.registry import BODY_VARIABLES, render_family_body
from ollama_forge.workflows.plan import plan_modelfile

BODY = """{% raw %}{{ range .Messages }}{{ .Role }}: {{ .Content }}
{{ end }}assistant:{% endraw %}
"""


def family_file(meta: dict, body: str = BODY) -> str:
    return "{#- forge-family\n" + json.dumps(meta, indent=2) + "\n-#}\n" + body


def sample_vars(**over: object) -> dict:
    values = {
        "model_path": "./m.gguf",
        "extra_from": [],
        "projector_path": None,
        "stops": ["</s>"],
        "num_ctx": 4096,
        "system": None,
        "params": {},
        "bos_token": "<s>",
        "eos_token": "</s>",
        "bos_prefix": "",
        "add_bos_token": True,
    }
    values.update(over)
    return values


def test_builtin_folder_is_the_repo_templates_in_a_checkout() -> None:
    folder = builtin_dir()
    assert folder.is_dir() and (folder / "llama3.1.jinja").is_file()


def test_every_builtin_family_renders_a_parseable_modelfile() -> None:
    from ollama_forge.gotemplate import parse
    from ollama_forge.modelfile import parse_modelfile

    families = list_families()
    assert len(families) >= 28
    for family in families:
        assert family.source == "builtin"
        text = render_family_body(
            family, sample_vars(system=family.default_system, stops=["</s>", "<|im_end|>"])
        )
        mf = parse_modelfile(text)
        assert mf.from_ == ["./m.gguf"], family.name
        assert mf.template, family.name
        parse(mf.template)  # valid Go template
        assert mf.parameters["num_ctx"] == 4096
        assert mf.parameters["stop"] == ["</s>", "<|im_end|>"]
        assert mf.system == family.default_system


def test_builtin_hashes_are_the_referenced_real_templates() -> None:
    """A family's chat_template_sha256 list is exactly the hashes of the real templates it names."""
    from assets import vocab_gguf

    from ollama_forge.gguf import read_gguf

    for family in list_families():
        expected = set()
        for ref in family.references:
            kind, _, name = ref.partition(":") if ":" in ref else ("corpus", "", ref)
            if kind == "fixture":
                continue
            if kind == "vocab":
                text = read_gguf(vocab_gguf(name)).chat_template or ""
            else:
                text = (CORPUS / f"{ref}.jinja").read_text(encoding="utf-8")
            expected.add(chat_template_sha256(text))
        assert set(family.chat_template_sha256) == expected, family.name


def test_go_template_text_reaches_the_modelfile_verbatim() -> None:
    family = load_families()["llama3"]
    text = render_family_body(family, sample_vars())
    assert (
        "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>"
        in text
    )


def test_bos_prefix_is_printed_only_when_llama_cpp_does_not_add_bos() -> None:
    family = load_families()["gemma3"]
    with_bos = render_family_body(family, sample_vars(bos_prefix="<bos>"))
    without = render_family_body(family, sample_vars(bos_prefix=""))
    assert 'TEMPLATE """<bos>{{- $first' in with_bos
    assert 'TEMPLATE """{{- $first' in without


@pytest.mark.parametrize(
    "text, needle",
    [
        ("FROM x\n", "must start with"),
        ("{#- forge-family\n{not json}\n-#}\nFROM x\n", "not valid JSON"),
        (family_file({"name": "x", "colour": "red"}), "bad forge-family metadata"),
        (family_file({"name": "Bad Name"}), "is not allowed"),
        (family_file({"name": "x", "name_patterns": ["("]}), "not a valid regex"),
        (family_file({"name": "x", "chat_template_sha256": ["abc"]}), "sha256"),
        (family_file({"name": "x"}, "FROM {{ model_path }\n"), "Jinja syntax error"),
        (
            family_file(
                {"name": "x"},
                'FROM {{ model_path }}\nTEMPLATE """{% raw %}{{ .Prompt }}{% endraw %}"""\n',
            ),
            "whole Modelfile",
        ),
    ],
)
def test_broken_family_files_are_refused_with_a_fix(text: str, needle: str) -> None:
    with pytest.raises(FamilyError) as info:
        parse_family_file(text, path="bad.jinja")
    assert needle in info.value.message
    assert info.value.hint


def test_family_bodies_are_sandboxed_and_strict() -> None:
    escape = parse_family_file(
        family_file({"name": "evil"}, "{{ ''.__class__.__mro__[1].__subclasses__() }}\n")
    )
    with pytest.raises(FamilyError):
        render_family_body(escape, sample_vars())
    unknown = parse_family_file(
        family_file({"name": "typo"}, "{{ bos_tokn }}{% raw %}{{ .Prompt }}{% endraw %}\n")
    )
    with pytest.raises(FamilyError) as info:
        render_family_body(unknown, sample_vars())
    assert "bos_token" in (info.value.hint or "")
    mutate = parse_family_file(family_file({"name": "mut"}, "{{ family.aliases.append('x') }}\n"))
    with pytest.raises(FamilyError):
        render_family_body(mutate, sample_vars())
    # Only the token texts and flags reach a body: paths, stops and SYSTEM are data, not variables.
    assert set(BODY_VARIABLES) == {
        "bos_token",
        "eos_token",
        "bos_prefix",
        "add_bos_token",
        "family",
    }


def test_a_body_that_is_not_a_go_template_is_refused() -> None:
    broken = parse_family_file(
        family_file({"name": "broken"}, "{% raw %}{{ if .System }}{% endraw %}\n")
    )
    with pytest.raises(FamilyError) as info:
        render_family_body(broken, sample_vars())
    assert "invalid Go template" in info.value.message


def test_get_family_by_alias_and_unknown_name() -> None:
    families = load_families()
    assert get_family("Llama3.3", families).name == "llama3.1"
    assert get_family("hermes3", families).name == "hermes"
    with pytest.raises(FamilyError) as info:
        get_family("nosuchfamily", families)
    assert "forge families" in (info.value.hint or "")


def test_user_folder_adds_and_overrides_families(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ggufs import write_gguf

    folder = tmp_path / "fams"
    folder.mkdir()
    template = (
        "{% for m in messages %}<<{{ m['role'] }}>>{{ m['content'] }}{% endfor %}<<assistant>>"
    )
    custom_body = BODY.replace(
        "{{ .Role }}: {{ .Content }}\n", "<<{{ .Role }}>>{{ .Content }}"
    ).replace("assistant:", "<<assistant>>")
    (folder / "mine.jinja").write_text(
        family_file(
            {
                "name": "mine",
                "description": "my house format",
                "chat_template_sha256": [chat_template_sha256(template)],
                "parameters": {"temperature": 0.3},
            },
            custom_body,
        ),
        encoding="utf-8",
    )
    (folder / "chatml.jinja").write_text(
        family_file(
            {"name": "chatml", "description": "overridden", "signatures": [["<|im_start|>"]]}
        ),
        encoding="utf-8",
    )

    assert "mine" not in load_families()
    by_flag = load_families(folder)
    assert by_flag["mine"].source == "user" and by_flag["chatml"].description == "overridden"
    monkeypatch.setenv("FORGE_FAMILIES", str(folder))
    by_env = load_families()
    assert by_env["mine"].source == "user" and by_env["chatml"].source == "user"

    gguf = write_gguf(tmp_path / "m.gguf", chat_template=template, add_bos=True)
    detection = detect_family(gguf)
    assert (detection.family, detection.rule) == ("mine", "chat_template_sha256")
    result = plan_modelfile(gguf, use_free_memory=False)
    assert result.family == "mine" and result.verified is True
    assert result.modelfile.parameters["temperature"] == pytest.approx(0.3)


def test_user_override_replaces_a_builtin_in_the_choice(tmp_path: Path, case_gguf) -> None:  # type: ignore[no-untyped-def]
    from family_cases import CASES

    folder = tmp_path / "fams"
    folder.mkdir()
    (folder / "chatml.jinja").write_text(
        family_file({"name": "chatml", "signatures": [["<|im_start|>"]]}), encoding="utf-8"
    )
    case = next(c for c in CASES if c.id == "chatml-chatml")
    detection = detect_family(write_case(case, tmp_path), families_dir=folder)
    assert detection.family == "chatml"
    result = plan_modelfile(case_gguf(case), families_dir=folder, use_free_memory=False)
    # The user's (wrong) chatml no longer verifies, so forge does not use it.
    assert result.family != "chatml" or result.verified is not True


def test_missing_user_folder_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORGE_FAMILIES", str(tmp_path / "nope"))
    with pytest.raises(FamilyError) as info:
        load_families()
    assert "FORGE_FAMILIES" in (info.value.hint or "")


def test_family_bodies_cannot_include_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    sneaky = parse_family_file(family_file({"name": "sneaky"}, f"{{% include '{secret}' %}}\n"))
    with pytest.raises(FamilyError):
        render_family_body(sneaky, sample_vars())
