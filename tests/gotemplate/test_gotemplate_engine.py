"""Unit tests of the Go template engine that need no Go toolchain (expected values were
checked against Go's text/template through the conformance harness)."""

from __future__ import annotations

from typing import Any

import pytest

from ollama_forge.errors import GoTemplateError, TemplateError
from ollama_forge.gotemplate import GoMap, GoSlice, Template, from_json, parse
from ollama_forge.gotemplate.gofmt import format_float, sprint, sprintf
from ollama_forge.gotemplate.gojson import marshal


def render(text: str, data: Any = None) -> str:
    return parse(text, "t").execute(data)


def error_of(text: str, data: Any = None) -> GoTemplateError:
    with pytest.raises(GoTemplateError) as info:
        render(text, data)
    return info.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a  \n {{- 1 -}} \n b", "a1b"),
        ("{{-3}}", "-3"),
        ("a{{/* c */}}b{{- /* c */ -}} c", "abc"),
        ("{{ `x\n{{y}}` }}", "x\n{{y}}"),
        ('{{ "\\u00e9\\t" }}', "é\t"),
        ("{{ 'a' }} {{ 0x1F }} {{ 1e3 }} {{ 1_000 }} {{ 017 }}", "97 31 1000 1000 15"),
        ("{{ 1.5 }} {{ 1e6 }} {{ 1e-7 }} {{ 123456.0 }}", "1.5 1e+06 1e-07 123456"),
    ],
)
def test_literals_and_trim(text: str, expected: str) -> None:
    assert render(text) == expected


def test_missing_keys_render_no_value_and_nil_interface_fails() -> None:
    assert render("{{ .Missing }}|{{ .M.nope }}", {"M": {}}) == "<no value>|<no value>"
    err = error_of("{{ .Missing.Foo }}", {})
    assert (
        err.message
        == 'template: t:1:11: executing "t" at <.Missing.Foo>: nil pointer evaluating interface {}.Foo'
    )
    assert err.line == 1 and err.col == 12
    # an invalid variable (not a nil interface) does not fail
    assert render("{{ $x := .Missing }}{{ $x.Foo }}", {}) == "<no value>"


def test_field_on_non_map_is_an_error() -> None:
    err = error_of("{{ .S.Foo }}", {"S": "x"})
    assert "can't evaluate field Foo in type interface {}" in err.message
    assert isinstance(err, TemplateError) and err.hint


def test_range_sorted_maps_else_break_continue() -> None:
    data = from_json({"M": {"b": 2, "a": 1}, "L": ["x", "y", "z"], "E": []})
    assert render("{{ range $k, $v := .M }}{{ $k }}={{ $v }};{{ end }}", data) == "a=1;b=2;"
    assert render("{{ range .E }}x{{ else }}empty{{ end }}", data) == "empty"
    tmpl = '{{ range .L }}{{ if eq . "y" }}{{ continue }}{{ end }}{{ if eq . "z" }}{{ break }}{{ end }}{{ . }}{{ end }}'
    assert render(tmpl, data) == "x"
    assert render("{{ range $i, $v := .L }}{{ $i }}{{ $v }}{{ end }}", data) == "0x1y2z"
    assert render("{{ range 3 }}{{ . }}{{ end }}") == "012"


def test_variables_scope_and_assignment() -> None:
    assert render("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}") == "21"
    assert render("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}") == "2"
    assert render("{{ range $i, $_ := .L }}{{ $.N }}{{ end }}", {"L": [1, 2], "N": "n"}) == "nn"


def test_if_else_if_with() -> None:
    assert render("{{ if .A }}a{{ else if .B }}b{{ else }}c{{ end }}", {"A": "", "B": [1]}) == "b"
    assert (
        render("{{ with .A }}{{ . }}{{ else with .B }}[{{ . }}]{{ end }}", {"A": 0, "B": "q"})
        == "[q]"
    )


def test_comparisons_follow_go() -> None:
    data = from_json({"N": 42, "S": "s"})
    assert (
        render('{{ eq .S "a" "s" }} {{ eq .N 42.0 }} {{ lt 1 2 }} {{ ge "b" "a" }}', data)
        == "true true true true"
    )
    err = error_of("{{ eq .N 42 }}", data)  # JSON numbers are float64; literals are int
    assert err.message.endswith(
        "error calling eq: incompatible types for comparison: float64 and int"
    )
    assert render('{{ eq .Missing "x" }}', {}) == "false"
    assert "missing argument for comparison" in error_of("{{ eq 1 }}").message
    assert "invalid type for comparison" in error_of("{{ lt true false }}").message


def test_and_or_return_operands_and_short_circuit() -> None:
    assert render('{{ and 1 0 2 }} {{ or 0 "" "x" }} {{ or 0 "" }}') == "0 x "
    data = {"L": []}
    assert render("{{ and false (index .L 5) }}", data) == "false"
    assert "index out of range: 5" in error_of("{{ and true (index .L 5) }}", data).message


def test_len_index_slice() -> None:
    data = from_json({"S": "héllo", "L": [1, 2, 3], "M": {"k": "v"}})
    assert (
        render(
            '{{ len .S }} {{ len .L }} {{ index .L 1 }} {{ index .M "k" }} {{ index .S 1 }}', data
        )
        == "6 3 2 v 195"
    )
    assert (
        render("{{ slice .L 1 }} {{ slice .S 0 1 }} {{ len (slice .L 1 2) }}", data) == "[2 3] h 1"
    )
    assert "invalid slice index: 2 > 1" in error_of("{{ slice .L 2 1 }}", data).message
    assert "len of type int" in error_of("{{ len 3 }}").message


@pytest.mark.parametrize(
    ("fmt", "args", "expected"),
    [
        ("%s|%d|%v|%q|%t", ["a", 3, [1, "b"], 'q"', True], 'a|3|[1 b]|"q\\""|true'),
        (
            "%5.2f|%-4d|%04d|%+d|%x|%X|%o|%b|%c|%U",
            [3.14159, 7, 7, -7, 255, 255, 8, 5, 65, 65],
            " 3.14|7   |0007|-7|ff|FF|10|101|A|U+0041",
        ),
        ("%e|%g|%.3g|%v", [123456.789, 1e-7, 1234.5678, 1e21], "1.234568e+05|1e-07|1.23e+03|1e+21"),
        ("%d", ["x"], "%!d(string=x)"),
        ("%s %s", ["one"], "one %!s(MISSING)"),
        ("%s", ["a", 2], "a%!(EXTRA int=2)"),
        ("%v %v", [None, {"b": 1, "a": [None]}], "<nil> map[a:[<nil>] b:1]"),
        ("100%%", [], "100%"),
    ],
)
def test_sprintf(fmt: str, args: list[Any], expected: str) -> None:
    assert sprintf(fmt, args) == expected


def test_sprint_spacing_and_floats() -> None:
    assert sprint([1, 2, "a", "b", 3]) == "1 2ab3"
    assert [format_float(f) for f in (1e6, 100000.0, 0.0001, 1e-5, -0.0)] == [
        "1e+06",
        "100000",
        "0.0001",
        "1e-05",
        "-0",
    ]


def test_json_matches_go_marshal() -> None:
    value = from_json({"b": "<a & b>\u2028", "a": [1, 1.5, None, True], "c": 1e21, "d": 1e-7})
    assert (
        marshal(value)
        == '{"a":[1,1.5,null,true],"b":"\\u003ca \\u0026 b\\u003e\\u2028","c":1e+21,"d":1e-7}'
    )
    assert render('{{ json .Missing }} {{ json "x" }}', {}) == 'null "x"'
    assert marshal(GoSlice(type_name="[]string", nil=True)) == "null"
    assert marshal(GoMap({"z": 1.0, "a": 2.0}, type_name="m")) == '{"a":2,"z":1}'


def test_define_template_block() -> None:
    text = '{{ define "x" }}[{{ . }}]{{ end }}{{ template "x" 1 }}{{ block "b" "y" }}<{{ . }}>{{ end }}'
    assert render(text) == "[1]<y>"
    assert 'template "nope" not defined' in error_of('{{ template "nope" }}').message


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("{{ .A", "template: t:1: unclosed action", 1),
        ("a\n{{ if .A }}", "template: t:2: unexpected EOF", 2),
        ("{{ end }}", "template: t:1: unexpected {{end}}", 1),
        ("\n\n{{ $x }}", 'template: t:3: undefined variable "$x"', 3),
        ("{{ nosuch 1 }}", 'template: t:1: function "nosuch" not defined', 1),
        ("{{ break }}", "template: t:1: {{break}} outside {{range}}", 1),
        ('{{ .A | "x" }}', "template: t:1: non executable command in pipeline stage 2", 1),
        ("{{ len .S) }}", "template: t:1: unexpected right paren", 1),
        ("{{/* x */ .A }}", "template: t:1: comment ends before closing delimiter", 1),
    ],
)
def test_parse_errors(text: str, message: str, line: int) -> None:
    with pytest.raises(GoTemplateError) as info:
        parse(text, "t")
    assert info.value.message == message
    assert info.value.line == line
    assert info.value.col >= 1
    assert info.value.hint


def test_vars_are_lowercased_identifiers() -> None:
    tmpl = parse("{{ range $i, $m := .Messages }}{{ $m.Content }}{{ end }}{{ .System }}")
    # declared-only variables ($i) are not identifiers in Ollama's walk; uses ($m.Content) are
    assert tmpl.vars() == {"messages", "$m", "content", "system"}
    assert isinstance(tmpl, Template)


def test_execution_error_location_uses_byte_columns() -> None:
    err = error_of("é日{{ .S.X }}", {"S": "x"})
    assert err.message.startswith('template: t:1:10: executing "t" at <.S.X>')


def test_parse_error_names_line_and_column_for_the_user() -> None:
    from ollama_forge.gotemplate import GoTemplateError, parse

    with pytest.raises(GoTemplateError) as exc:
        parse("hello\n{{ if .X }}\n{{ .Y | }}", name="t")
    assert exc.value.message == "template: t:3: unexpected EOF"  # Go's own text, unchanged
    assert exc.value.line == 3 and exc.value.col == 11
    assert (exc.value.hint or "").startswith("Line 3, column 11:")
