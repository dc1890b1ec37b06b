"""The GGUF's Jinja chat template rendered like transformers, inside the immutable sandbox."""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Any

import pytest

from ollama_forge.errors import ChatTemplateError
from ollama_forge.fidelity.conversations import conversation_suite, think_kwargs, to_hf_messages
from ollama_forge.fidelity.jinja import (
    MAX_TEMPLATE_CHARS,
    check_template,
    prepare_messages,
    render_budget,
    render_chat_template,
    template_variables,
)

CORPUS = Path(__file__).parents[1] / "data" / "chat_templates"


def render(template: str, messages: list[dict[str, Any]] | None = None, **kw: Any) -> str:
    return render_chat_template(template, messages or [{"role": "user", "content": "hi"}], **kw)


def kind_of(template: str, **kw: Any) -> tuple[str, ChatTemplateError]:
    with pytest.raises(ChatTemplateError) as info:
        render(template, **kw)
    return str(info.value.fields.get("kind")), info.value


# --- transformers' environment ---------------------------------------------------------------


def test_trim_and_lstrip_blocks_like_transformers() -> None:
    template = "{% for m in messages %}\n    {% if true %}\n[{{ m.content }}]\n    {% endif %}\n{% endfor %}"
    assert render(template) == "[hi]\n"


def test_loopcontrols_and_generation_tag() -> None:
    template = (
        "{% for i in range(5) %}{% if i == 2 %}{% break %}{% endif %}{{ i }}{% endfor %}"
        "{% generation %}<gen>{% endgeneration %}"
    )
    assert render(template) == "01<gen>"


def test_tojson_is_not_html_escaped_and_keeps_key_order() -> None:
    out = render("{{ {'b': '<a&b>', 'a': 'é'} | tojson }}|{{ [1, 2] | tojson(indent=2) }}")
    assert out == '{"b": "<a&b>", "a": "é"}|[\n  1,\n  2\n]'


def test_globals_bos_eos_and_strftime_now() -> None:
    out = render(
        "{{ bos_token }}{{ strftime_now('%Y-%m-%d') }}{{ eos_token }}",
        bos_token="<s>",
        eos_token="</s>",
    )
    assert out == f"<s>{datetime.date.today():%Y-%m-%d}</s>"


def test_raise_exception_surfaces_the_template_message() -> None:
    kind, err = kind_of("{{ raise_exception('Conversation roles must alternate user/assistant') }}")
    assert kind == "raise_exception"
    assert err.fields["template_message"] == "Conversation roles must alternate user/assistant"
    assert "Conversation roles must alternate" in err.message and err.hint


def test_namespace_and_dict_work_for_normal_templates() -> None:
    template = (
        "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}"
        "{{ ns.n }}{{ dict(a=1) | tojson }}{{ dict.fromkeys(['x']) | tojson }}"
    )
    assert (
        render(template, [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
        == '2{"a": 1}{"x": null}'
    )


def test_inputs_are_reduced_to_plain_data() -> None:
    class Sneaky(str):
        def dangerous(self) -> str:  # pragma: no cover - must never be reachable
            raise AssertionError("reached")

    messages = prepare_messages(
        [{"role": "user", "content": Sneaky("hi"), "name": None, "thinking": "t"}]
    )
    assert type(messages[0]["content"]) is str
    assert "name" not in messages[0]  # None-valued keys are dropped, as transformers does
    assert messages[0]["reasoning_content"] == "t"  # reasoning aliasing
    out = render("{{ messages[0].content.dangerous }}", [{"role": "user", "content": Sneaky("hi")}])
    assert out == ""


def test_syntax_error_and_length_cap() -> None:
    with pytest.raises(ChatTemplateError) as info:
        check_template("{% if %}")
    assert info.value.fields["kind"] == "TemplateSyntaxError"
    kind, _ = kind_of("x" * (MAX_TEMPLATE_CHARS + 1))
    assert kind == "TemplateTooLarge"


def test_template_variables() -> None:
    assert {"messages", "enable_thinking"} <= template_variables(
        "{% for m in messages %}{% endfor %}{% if enable_thinking %}{% endif %}"
    )


# --- SSTI payloads (security fact sheet §3) ------------------------------------------------------

SECURITY_ERRORS = [
    '{{ lipsum.__globals__["os"].popen("id").read() }}',
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ self.__init__.__globals__ }}",
    "{{ messages[0].__class__.__mro__ }}",
    "{{ strftime_now.__globals__['datetime'] }}",
    "{{ dict.__call__.__globals__ }}",
    '{% set f = "{0.__class__.__mro__}"|attr("format") %}{{ f(1) }}',
    '{{ "{0.__class__.__mro__[1].__subclasses__}".format(1) }}',
    "{% set x = [] %}{{ x.append(1) }}",
    "{% set d = {} %}{{ d.update(a=1) }}",
    "{% set ns = namespace(_x=1) %}",
    "{% set ns = namespace() %}{% set ns._x = 1 %}",
    "{% set ns = namespace() %}{% set ns.__class__ = 1 %}",
]

EMPTY_OUTPUT = [
    "{{ '{0.__class__}'.format(1) }}",
    "{{ ''|attr('__class__') }}",
    "{{ messages.__class__ }}",
    "{{ raise_exception.__globals__ }}",
    "{{ namespace.__mro__ }}",
    "{{ self._TemplateReference__context }}",
]


@pytest.mark.parametrize("payload", SECURITY_ERRORS)
def test_ssti_payloads_are_refused_by_the_sandbox(payload: str) -> None:
    kind, err = kind_of(payload)
    # '{0.__class__}'.format-style payloads may surface as SecurityError or as a refusal to call
    assert kind == "SecurityError", err.message
    assert "<class" not in err.message and "subclasses()" not in err.message


@pytest.mark.parametrize("payload", EMPTY_OUTPUT)
def test_single_unsafe_hop_gives_empty_output(payload: str) -> None:
    try:
        out = render(payload)
    except ChatTemplateError as err:  # a second hop raising is also a pass
        assert err.fields["kind"] in {"SecurityError", "UndefinedError"}
        return
    assert out == ""


@pytest.mark.parametrize(
    "payload", ["{{ config.items() }}", "{{ request.application.__globals__ }}"]
)
def test_flask_style_globals_are_undefined(payload: str) -> None:
    kind, _ = kind_of(payload)
    assert kind == "UndefinedError"


@pytest.mark.parametrize("payload", ["{% include '/etc/passwd' %}", "{% import 'os' as os %}"])
def test_no_loader_means_no_include_or_import(payload: str) -> None:
    kind, err = kind_of(payload)
    assert kind == "TypeError" and "no loader" in err.message


def test_huge_range_overflows() -> None:
    kind, _ = kind_of("{{ range(100000000)|list|length }}")
    assert kind == "OverflowError"


def test_harmless_repr_and_big_string_are_allowed() -> None:
    assert render("{{ ''.join }}").startswith("<built-in method join of str object")
    assert render("{{ ('a' * 100000000)|length }}") == "100000000"


def test_runaway_nested_loop_is_killed_and_the_worker_recovers() -> None:
    start = time.monotonic()
    kind, err = kind_of(
        "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
        timeout=1.0,
    )
    assert kind == "Timeout" and err.hint
    assert time.monotonic() - start < 10
    assert render("{{ messages[0].content }}") == "hi"  # a fresh worker serves the next render


def test_output_is_capped() -> None:
    kind, _ = kind_of("{% for i in range(99999) %}{{ 'x' * 1000 }}{% endfor %}", max_output=100_000)
    assert kind == "OutputLimit"


def test_memory_is_capped() -> None:
    pytest.importorskip("resource")
    kind, _ = kind_of("{{ ('a' * 4000000000)|length }}")
    assert kind in {"MemoryError", "WorkerDied", "OverflowError"}


# --- corpus and transformers equivalence -------------------------------------------------------

TRANSFORMERS_SAMPLES = [
    "Qwen-Qwen2.5-7B-Instruct",
    "Qwen-Qwen3-0.6B",
    "meta-llama-Llama-3.2-3B-Instruct",
    "google-gemma-2-2b-it",
    "mistralai-Mistral-Nemo-Instruct-2407",
    "microsoft-Phi-3.5-mini-instruct",
    "ibm-granite-granite-3.3-2B-Instruct",
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B",
    "openai-gpt-oss-120b",
    "HuggingFaceTB-SmolLM3-3B",
]


@pytest.mark.parametrize("name", TRANSFORMERS_SAMPLES)
def test_rendering_equals_transformers(name: str) -> None:
    ctu = pytest.importorskip("transformers.utils.chat_template_utils")
    template = (CORPUS / f"{name}.jinja").read_text(encoding="utf-8")
    compared = 0
    for conv in conversation_suite():
        kwargs = {"bos_token": "<s>", "eos_token": "</s>", **think_kwargs(conv.think)}
        messages = to_hf_messages(conv.messages)
        try:
            theirs, _ = ctu.render_jinja_template(
                conversations=[messages],
                tools=conv.tools,
                chat_template=template,
                add_generation_prompt=True,
                **kwargs,
            )
        except Exception as exc:  # the template refuses this conversation: so must we
            with pytest.raises(ChatTemplateError):
                render_chat_template(template, messages, tools=conv.tools, **kwargs)
            assert exc is not None
            continue
        ours = render_chat_template(template, messages, tools=conv.tools, **kwargs)
        assert ours == theirs[0], conv.name
        compared += 1
    assert compared >= 3


# --- one render budget per command (issue 12) -------------------------------------------------

SPIN = "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"


def test_a_template_that_timed_out_fails_at_once_for_the_rest_of_the_command() -> None:
    with render_budget(30) as budget:
        kind, _ = kind_of(SPIN, timeout=0.5)
        assert kind == "Timeout"
        spent = budget.spent
        for _ in range(5):  # every later conversation of the same command
            kind, err = kind_of(SPIN, timeout=0.5)
            assert kind == "Timeout" and "earlier in this command" in err.message
        assert budget.spent == spent  # nothing more was rendered
        assert render("{{ messages[0].content }}") == "hi"  # other templates still render


def test_slow_renders_share_one_budget_then_fail_without_rendering() -> None:
    # Each template is different (no memo), each renders slowly: the command's budget bounds them all.
    with render_budget(1.0) as budget:
        kinds = []
        for n in range(6):
            try:
                render(SPIN.replace("99999", str(99999 - n)), timeout=5)
                kinds.append("ok")
            except ChatTemplateError as exc:
                kinds.append(str(exc.fields.get("kind")))
                if "budget" in exc.message:
                    assert exc.hint
        assert set(kinds) == {"Timeout"}
        assert budget.left <= 0
        kind, err = kind_of("{% for i in range(3) %}{% endfor %}")  # any render now refuses at once
        assert kind == "Timeout" and "budget" in err.message
    assert render("{{ messages[0].content }}") == "hi"  # the scope ended: a fresh budget applies


def test_fast_renders_do_not_draw_on_the_budget() -> None:
    with render_budget(0.5) as budget:
        for _ in range(20):
            assert render("{{ messages[0].content }}") == "hi"
        assert budget.left > 0


def test_lone_surrogates_in_the_output_become_replacement_characters() -> None:
    text = render(
        '{{ "\\ud800" }}|{{ messages[0].content }}|{{ "\\ud83d\\ude00" }}',
        [{"role": "user", "content": "a\ud800b"}],
    )
    assert text == "\ufffd|a\ufffdb|\U0001f600"
    text.encode("utf-8")  # printable, writable, sendable
