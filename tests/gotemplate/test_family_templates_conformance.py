"""Every family's Go TEMPLATE (templates/*.jinja via ollama_forge.families) renders the test
conversations byte-identically in Go's text/template (Ollama semantics) and in forge."""

from __future__ import annotations

from typing import Any

import pytest
from gotemplate_family_cases import CONVERSATIONS

from ollama_forge.errors import GoTemplateError
from ollama_forge.fidelity.ollama_prompt import render_prompt

pytestmark = pytest.mark.go

families = pytest.importorskip(
    "ollama_forge.families", reason="ollama_forge.families is not available"
)


def _family_modelfiles() -> list[tuple[str, str, str | None]]:
    """(case name, TEMPLATE, SYSTEM) of every registered family: once for a model whose
    tokenizer adds BOS, once (when the TEMPLATE differs) for one whose template prints it."""
    from ollama_forge.families.registry import render_family_body
    from ollama_forge.modelfile import parse_modelfile

    out = []
    for fam in families.list_families():
        seen: set[str] = set()
        for variant, add_bos in (("", True), ("+bos", False)):
            text = render_family_body(
                fam,
                {
                    "model_path": "/models/model.gguf",
                    "extra_from": [],
                    "projector_path": None,
                    "stops": ["<|stop|>"],
                    "num_ctx": 4096,
                    "system": fam.default_system,
                    "params": {},
                    "bos_token": "<s>",
                    "eos_token": "</s>",
                    "add_bos_token": add_bos,
                    "bos_prefix": "" if add_bos else "<s>",
                },
            )
            mf = parse_modelfile(text)
            assert mf.template is not None, f"family {fam.name} renders no TEMPLATE"
            if mf.template not in seen:
                seen.add(mf.template)
                out.append((fam.name + variant, mf.template, mf.system))
    return out


FAMILIES = _family_modelfiles()
CASES = [(name, conv) for name, _, _ in FAMILIES for conv in CONVERSATIONS]
TEMPLATES = {name: (tmpl, system) for name, tmpl, system in FAMILIES}


def test_families_exist() -> None:
    assert len(FAMILIES) >= 10


@pytest.fixture(scope="module")
def go_family_results(go_harness: Any) -> dict[tuple[str, str], dict[str, Any]]:
    cases = []
    for name, conv in CASES:
        tmpl, system = TEMPLATES[name]
        spec = dict(CONVERSATIONS[conv])
        spec.setdefault("system", system)
        cases.append(
            {
                "mode": "chat",
                "name": "",
                "template": tmpl,
                **{k: v for k, v in spec.items() if v is not None},
            }
        )
    return dict(zip(CASES, go_harness(cases), strict=True))


@pytest.mark.parametrize(("family", "conv"), CASES, ids=[f"{f}--{c}" for f, c in CASES])
def test_family_template_matches_go(
    family: str, conv: str, go_family_results: dict[tuple[str, str], dict[str, Any]]
) -> None:
    tmpl, system = TEMPLATES[family]
    spec = CONVERSATIONS[conv]
    go = go_family_results[(family, conv)]
    assert go["err"] is None, f"family {family}: Go fails on conversation {conv}: {go['err']}"
    try:
        out = render_prompt(
            tmpl,
            spec["messages"],
            system=spec.get("system", system),
            tools=spec.get("tools"),
            think=spec.get("think"),
            model_messages=spec.get("model_messages"),
        )
    except GoTemplateError as err:
        pytest.fail(f"Python failed where Go rendered: {err}")
    assert out == go["out"]
