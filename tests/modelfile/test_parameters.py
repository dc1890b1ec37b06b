"""PARAMETER validation: names, removed names, Go parse rules, types, ranges, stop lists."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ollama_forge.errors import ParameterError
from ollama_forge.modelfile import (
    DEPRECATED_SKIPPED,
    KNOWN_PARAMETERS,
    REMOVED_PARAMETERS,
    format_parameter_value,
    parse_modelfile,
    validate_parameter,
    validate_parameters,
)
from ollama_forge.modelfile.parameters import go_parse_float32, go_parse_int


def error(params: object) -> ParameterError:
    with pytest.raises(ParameterError) as info:
        validate_parameters(params)  # type: ignore[arg-type]
    return info.value


def test_known_parameters_are_ollamas_twenty() -> None:
    assert list(KNOWN_PARAMETERS) == [
        "num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread",
        "draft_num_predict", "num_keep", "seed", "num_predict", "top_k", "top_p", "min_p",
        "typical_p", "repeat_last_n", "temperature", "repeat_penalty", "presence_penalty",
        "frequency_penalty", "stop",
    ]  # fmt: skip
    kinds = {name: spec.kind for name, spec in KNOWN_PARAMETERS.items()}
    assert kinds["use_mmap"] == "bool" and kinds["stop"] == "list"
    assert kinds["top_p"] == "float" and kinds["main_gpu"] == "int"


def test_unknown_parameter_message_and_did_you_mean() -> None:
    err = error({"temprature": "0.7"})
    assert err.message == "unknown parameter 'temprature'"
    assert "Did you mean 'temperature'" in (err.hint or "")
    assert err.parameter == "temprature"


def test_names_are_case_sensitive() -> None:
    err = error({"Temperature": 0.5})
    assert err.message == "unknown parameter 'Temperature'"
    assert "'temperature'" in (err.hint or "")


def test_alias_hint() -> None:
    assert "num_predict" in (error({"max_tokens": 10}).hint or "")
    assert "num_ctx" in (error({"n_ctx": 10}).hint or "")


@pytest.mark.parametrize(("name", "version"), sorted(REMOVED_PARAMETERS.items()))
def test_removed_parameters_name_their_version(name: str, version: str) -> None:
    err = error({name: "1"})
    assert version in err.message and name in err.message
    assert err.removed_in == version
    assert err.hint
    if name in DEPRECATED_SKIPPED:
        assert "deprecated" in err.message
    else:
        assert f"unknown parameter '{name}'" in err.message


def test_specific_removal_versions() -> None:
    assert REMOVED_PARAMETERS["tfs_z"] == "v0.5.2"
    assert REMOVED_PARAMETERS["mirostat"] == "v0.7.0"
    assert REMOVED_PARAMETERS["numa"] == "v0.3.4"
    assert REMOVED_PARAMETERS["penalize_newline"] == "v0.5.5"


@pytest.mark.parametrize("name", ["system", "template", "model", "license", "adapter", "from"])
def test_command_words_as_parameter_names_are_rejected(name: str) -> None:
    err = error({name: "x"})
    assert "command word" in err.message
    assert "instead" in (err.hint or "")


def test_parameter_system_in_a_modelfile_is_rejected_with_line() -> None:
    with pytest.raises(ParameterError) as info:
        parse_modelfile("FROM x\n\nPARAMETER system be nice\n")
    assert info.value.line == 3


# --- Go parse rules for string values ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("4096", 4096), ("+12", 12), ("-1", -1), ("007", 7), ("9223372036854775807", None)],
)
def test_parse_int(text: str, value: int | None) -> None:
    if value is None:
        assert go_parse_int(text) == 2**63 - 1
    else:
        assert validate_parameter("seed", text) == value


@pytest.mark.parametrize("text", ["1.0", "1e3", "0x10", "1_000", " 1", "", "9223372036854775808"])
def test_invalid_int_values_use_ollamas_message(text: str) -> None:
    err = error([("num_ctx", text)])
    assert err.message == f"invalid int value [{text}]"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.7", 0.7),
        (".5", 0.5),
        ("1.", 1.0),
        ("1e-1", 0.1),
        ("+0.25", 0.25),
        ("1_0.5", 10.5),
        ("0x1p-2", 0.25),
        ("0x_1.8p1", 3.0),
        ("0.123456789", 0.12345679),  # rounded to float32 like Ollama stores it
    ],
)
def test_parse_float(text: str, value: float) -> None:
    assert validate_parameter("temperature", text) == value


@pytest.mark.parametrize("text", ["abc", "0,7", "1e", "_1", "1__0", "0x1", "1e39", "", "- 1"])
def test_invalid_float_values_use_ollamas_message(text: str) -> None:
    assert error([("temperature", text)]).message == f"invalid float value [{text}]"


@pytest.mark.parametrize("text", ["inf", "-Infinity", "NaN"])
def test_non_finite_floats_are_rejected(text: str) -> None:
    assert "finite" in error([("top_p", text)]).message


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", True), ("t", True), ("T", True), ("TRUE", True), ("true", True), ("True", True),
     ("0", False), ("f", False), ("F", False), ("FALSE", False), ("false", False), ("False", False)],
)  # fmt: skip
def test_parse_bool(text: str, value: bool) -> None:
    assert validate_parameter("use_mmap", text) is value


@pytest.mark.parametrize("text", ["yes", "tRUE", "on", "2", ""])
def test_invalid_bool_values(text: str) -> None:
    assert error([("use_mmap", text)]).message == f"invalid bool value [{text}]"


# --- Python values ------------------------------------------------------------------------------


def test_python_values_are_typed() -> None:
    out = validate_parameters({"num_ctx": 8192, "temperature": 1, "use_mmap": False, "seed": 3.0})
    assert out == {"num_ctx": 8192, "temperature": 1.0, "use_mmap": False, "seed": 3}
    assert isinstance(out["temperature"], float) and isinstance(out["seed"], int)


@pytest.mark.parametrize(
    ("name", "value"),
    [("num_ctx", True), ("num_ctx", 1.5), ("num_ctx", None), ("temperature", True),
     ("temperature", [0.1]), ("use_mmap", 1), ("stop", 5), ("stop", ["a", 1])],
)  # fmt: skip
def test_python_values_of_the_wrong_type(name: str, value: object) -> None:
    err = error({name: value})
    assert "must be" in err.message
    assert err.hint and name in err.hint


# --- ranges ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("num_ctx", 0),
        ("num_ctx", 2**31 + 1),
        ("num_batch", 0),
        ("num_gpu", -2),
        ("top_k", -1),
        ("top_p", 1.5),
        ("top_p", -0.1),
        ("min_p", 2),
        ("typical_p", 1.01),
        ("temperature", -0.1),
        ("repeat_penalty", 0),
        ("presence_penalty", 2.5),
        ("frequency_penalty", -3),
        ("num_predict", -3),
        ("repeat_last_n", -2),
        ("num_keep", -2),
    ],
)
def test_out_of_range(name: str, value: float) -> None:
    err = error({name: value})
    assert "out of range" in err.message
    assert err.hint and "default" in err.hint


@pytest.mark.parametrize(
    ("name", "value"),
    [("num_ctx", 1), ("num_ctx", 2**31), ("num_gpu", -1), ("top_k", 0), ("top_p", 0),
     ("top_p", 1), ("temperature", 0), ("repeat_penalty", 1.1), ("num_predict", -2),
     ("repeat_last_n", -1), ("seed", -(2**63)), ("presence_penalty", -2)],
)  # fmt: skip
def test_range_edges_accepted(name: str, value: float) -> None:
    assert validate_parameter(name, value) == value


# --- stop ---------------------------------------------------------------------------------------------


def test_stop_accumulates_and_other_repeats_take_the_last() -> None:
    pairs = [
        ("stop", "<|im_end|>"),
        ("temperature", "0.5"),
        ("stop", "</s>"),
        ("temperature", "0.2"),
    ]
    out = validate_parameters(pairs)
    assert out == {"stop": ["<|im_end|>", "</s>"], "temperature": 0.2}
    assert list(out) == ["stop", "temperature"]


def test_stop_accepts_a_string_or_list_and_rejects_empty() -> None:
    assert validate_parameters({"stop": "x"}) == {"stop": ["x"]}
    assert validate_parameters({"stop": ("a", "b")}) == {"stop": ["a", "b"]}
    assert "empty" in error({"stop": ["a", ""]}).message
    assert validate_parameters({"stop": [], "top_k": 1}) == {"top_k": 1}


def test_modelfile_stop_lines_accumulate() -> None:
    mf = parse_modelfile('FROM x\nPARAMETER stop "<|im_end|>"\nPARAMETER stop </s>\n')
    assert mf.parameters == {"stop": ["<|im_end|>", "</s>"]}


# --- formatting round trip --------------------------------------------------------------------------


def _f32(x: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0, allow_nan=False))
def test_float_values_survive_format_and_reparse(x: float) -> None:
    typed = validate_parameter("top_p", x)
    assert _f32(typed) == _f32(x)  # the same float32 Ollama would store
    assert validate_parameter("top_p", format_parameter_value(typed)) == typed


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_int_values_survive_format_and_reparse(x: int) -> None:
    assert validate_parameter("seed", format_parameter_value(x)) == x


def test_float32_rounding_is_shortest() -> None:
    assert go_parse_float32("0.1") == 0.1
    assert go_parse_float32("3.4028235e38") == 3.4028235e38
    assert go_parse_float32("3.5e38") is None
