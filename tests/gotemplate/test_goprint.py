"""Printability as Go's strconv.IsPrint from one generated table, whatever Python's Unicode version."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from ollama_forge.gotemplate.goprint import GO_VERSION, UNICODE_VERSION, is_print
from ollama_forge.gotemplate.goprint_table import RANGES

ROOT = Path(__file__).resolve().parents[2]


def test_ascii_and_well_known_runes() -> None:
    assert [c for c in map(chr, range(0x80)) if is_print(c)] == [chr(c) for c in range(0x20, 0x7F)]
    assert (
        not is_print("\u00a0") and not is_print("\u00ad") and not is_print("\u200b")
    )  # NBSP, soft hyphen, ZWSP
    assert is_print("é") and is_print("中") and is_print("\U0001f600")
    assert not is_print("\ud800") and not is_print("\U0010ffff")


def test_runes_newer_than_python_311_follow_go() -> None:
    # U+1CC00 (Unicode 16) and U+1FAE9 (Unicode 16): unassigned for Python 3.11's unicodedata 14.0.
    if int(UNICODE_VERSION.split(".")[0]) >= 16:
        assert is_print("\U0001cc00") and is_print("\U0001fae9")


def test_table_is_sorted_disjoint_ranges() -> None:
    assert len(RANGES) % 2 == 0
    assert all(a < b for a, b in itertools.pairwise(RANGES))
    assert GO_VERSION.startswith("go") and UNICODE_VERSION


@pytest.mark.go
def test_committed_table_matches_the_go_toolchain() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_goprint.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_go_template_quoting_uses_the_same_table() -> None:
    from ollama_forge.gotemplate import parse

    out = parse('{{ printf "%q" . }}|{{ printf "%#U" 0x1CC00 }}|{{ js . }}').execute(
        "\U0001cc00\u00a0"
    )
    if int(UNICODE_VERSION.split(".")[0]) >= 16:
        # what Go 1.27 prints: U+1CC00 is printable, NBSP is not
        assert out == "\"\U0001cc00\\u00a0\"|U+1CC00 '\U0001cc00'|\U0001cc00\\u00A0"
