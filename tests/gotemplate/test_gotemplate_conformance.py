"""Byte-for-byte conformance of the Python engine (and prompt building) with Go.

Every case runs through Go's text/template via tests/go/harness (built at test time) and
through ollama_forge; outputs must be identical, and where Go fails Python must fail with
the same message.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from gotemplate_exec_cases import CASES
from gotemplate_family_cases import (
    CONVERSATIONS,
    FAMILY_TEMPLATES,
    PARSE_FAILS,
    TYPED_CONVERSATIONS,
    TYPED_TEMPLATES,
)

from ollama_forge.errors import GoTemplateError
from ollama_forge.fidelity.ollama_prompt import (
    infer_thinking_tags,
    ollama_parse,
    render_generate,
    render_prompt,
    template_capabilities,
)
from ollama_forge.gotemplate import from_json, parse

pytestmark = pytest.mark.go

EXEC_IDS = [c[0] for c in CASES]
ALL_TEMPLATES = {**FAMILY_TEMPLATES, **TYPED_TEMPLATES}
CHAT = [(t, c) for t in FAMILY_TEMPLATES for c in CONVERSATIONS]
CHAT += [(t, c) for t in TYPED_TEMPLATES for c in [*TYPED_CONVERSATIONS, "nil-arguments"]]
CHAT_IDS = [f"{t}--{c}" for t, c in CHAT]
GENERATE = [
    ("legacy-alpaca", {"prompt": "Write a haiku.", "system": "Poet."}),
    (
        "legacy-chatml",
        {
            "prompt": "Hi",
            "model_messages": [
                {"role": "user", "content": "ex q"},
                {"role": "assistant", "content": "ex a"},
            ],
        },
    ),
    ("legacy-prompt-only", {"prompt": "raw prompt"}),
    ("fim", {"prompt": "def add(a, b):", "suffix": "    return c"}),
    ("fim", {"prompt": "", "suffix": "only suffix"}),
    ("chatml", {"prompt": "Hello", "system": "S", "think": True}),
    ("qwen2.5-tools", {"prompt": "Hello"}),
    ("deepseek-r1", {"prompt": "Why?", "think": False}),
]
GENERATE_IDS = [f"{t}--{i}" for i, (t, _) in enumerate(GENERATE)]


def _exec_case(case: tuple[str, str, Any]) -> dict[str, Any]:
    _name, template, data = case
    return {"mode": "exec", "name": "t", "template": template, "data": data}


def _chat_case(tname: str, conv: str) -> dict[str, Any]:
    return {"mode": "chat", "name": "", "template": ALL_TEMPLATES[tname], **CONVERSATIONS[conv]}


def _generate_case(tname: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"mode": "generate", "name": "", "template": FAMILY_TEMPLATES[tname], **spec}


@pytest.fixture(scope="module")
def go_results(go_harness: Any) -> dict[str, dict[str, Any]]:
    cases = [_exec_case(c) for c in CASES]
    cases += [_chat_case(t, c) for t, c in CHAT]
    cases += [_generate_case(t, s) for t, s in GENERATE]
    cases += [{"mode": "vars", "name": "", "template": t} for t in FAMILY_TEMPLATES.values()]
    cases += [{"mode": "caps", "name": "", "template": t} for t in ALL_TEMPLATES.values()]
    ids = (
        [f"exec:{i}" for i in EXEC_IDS]
        + [f"chat:{i}" for i in CHAT_IDS]
        + [f"gen:{i}" for i in GENERATE_IDS]
        + [f"vars:{t}" for t in FAMILY_TEMPLATES]
        + [f"caps:{t}" for t in ALL_TEMPLATES]
    )
    results = go_harness(cases)
    assert len(results) == len(ids)
    return dict(zip(ids, results, strict=True))


def _python(fn: Any) -> tuple[str | None, str | None]:
    try:
        return fn(), None
    except GoTemplateError as err:
        return None, err.message


# Go allows 100000 nested {{template}} calls, Python's stack far fewer: both fail, the limit differs.
MESSAGE_EXEMPT = {"err-deep"}


def _compare(go: dict[str, Any], py: tuple[str | None, str | None], exempt: bool = False) -> None:
    out, err = py
    if go["err"] is not None:
        assert err is not None, f"Go failed ({go['err']!r}) but Python rendered {out!r}"
        if not exempt:
            assert err == go["err"]
    else:
        assert err is None, f"Python failed ({err}) but Go rendered {go['out']!r}"
        assert out == go["out"]


@pytest.mark.parametrize("case", CASES, ids=EXEC_IDS)
def test_exec_matches_go(case: tuple[str, str, Any], go_results: dict[str, dict[str, Any]]) -> None:
    name, template, data = case
    data = from_json(json.loads(json.dumps(data)))
    _compare(
        go_results[f"exec:{name}"],
        _python(lambda: parse(template, "t").execute(data)),
        exempt=name in MESSAGE_EXEMPT,
    )


@pytest.mark.parametrize(("tname", "conv"), CHAT, ids=CHAT_IDS)
def test_chat_prompt_matches_go(
    tname: str, conv: str, go_results: dict[str, dict[str, Any]]
) -> None:
    spec = CONVERSATIONS[conv]
    go = go_results[f"chat:{tname}--{conv}"]
    py = _python(
        lambda: render_prompt(
            ALL_TEMPLATES[tname],
            spec["messages"],
            system=spec.get("system"),
            tools=spec.get("tools"),
            think=spec.get("think"),
            model_messages=spec.get("model_messages"),
        )
    )
    _compare(go, py)
    if tname in PARSE_FAILS:
        assert go["err"] is not None


@pytest.mark.parametrize(("tname", "spec"), GENERATE, ids=GENERATE_IDS)
def test_generate_prompt_matches_go(
    tname: str, spec: dict[str, Any], go_results: dict[str, dict[str, Any]]
) -> None:
    idx = GENERATE.index((tname, spec))
    go = go_results[f"gen:{GENERATE_IDS[idx]}"]
    py = _python(
        lambda: render_generate(
            FAMILY_TEMPLATES[tname],
            spec["prompt"],
            system=spec.get("system"),
            suffix=spec.get("suffix"),
            think=spec.get("think"),
            model_messages=spec.get("model_messages"),
        )
    )
    _compare(go, py)


@pytest.mark.parametrize("tname", list(FAMILY_TEMPLATES))
def test_vars_match_go(tname: str, go_results: dict[str, dict[str, Any]]) -> None:
    go = go_results[f"vars:{tname}"]
    py = _python(lambda: ",".join(sorted(ollama_parse(FAMILY_TEMPLATES[tname]).vars())))
    _compare(go, py)


@pytest.mark.parametrize("tname", list(ALL_TEMPLATES))
def test_capabilities_match_go(tname: str, go_results: dict[str, dict[str, Any]]) -> None:
    go = go_results[f"caps:{tname}"]

    def caps() -> str:
        template = ALL_TEMPLATES[tname]
        order = [c for c in ("tools", "insert", "thinking") if c in template_capabilities(template)]
        opening, closing = infer_thinking_tags(template)
        return ",".join(order) + "|" + opening + "|" + closing

    _compare(go, _python(caps))


def test_case_counts() -> None:
    # Guards against the parametrisation silently shrinking.
    assert len(CASES) >= 150
    assert len(CHAT) >= 300
