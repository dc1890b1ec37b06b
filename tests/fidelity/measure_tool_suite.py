"""Measure the tool and thinking suite on the real chat templates in tests/data/chat_templates/.

    .venv/bin/python tests/fidelity/measure_tool_suite.py [--only NAME] [--json]

For every template that supports tools or thinking, takes the Go TEMPLATE forge synthesises
today (plausible BOS/EOS as benchmarks/fidelity.py guesses them) and reports: byte identity
on the tool/thinking suite (a request the Go path refuses counts as different), whether Ollama's
parser recovers the model's own tool calls, and the path a v0.33 server would take.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "chat_templates"
sys.path.insert(0, str(ROOT))


def _plausible_tokens():  # benchmarks/fidelity.py is a script, not a module
    spec = importlib.util.spec_from_file_location(
        "forge_fidelity_benchmark", ROOT / "benchmarks" / "fidelity.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.plausible_tokens


def _state(result) -> str:
    if result.identical:
        return "same"
    if result.skipped_reason:
        return "skipped"
    return "refused" if result.refused else "error" if result.error else "differs"


def measure(only: str | None = None) -> dict:
    from ollama_forge.errors import ForgeError
    from ollama_forge.fidelity.conversations_tools import compare_tool_suite
    from ollama_forge.synthesis import synthesize_template
    from ollama_forge.verify import chat_template_capabilities

    plausible = _plausible_tokens()
    rows = []
    for path in sorted(CORPUS.glob("*.jinja")):
        if only and only not in path.stem:
            continue
        template = path.read_text(encoding="utf-8")
        caps = chat_template_capabilities(template)
        if not caps & {"tools", "thinking"}:
            continue
        bos, eos, add_bos = plausible(template)
        row: dict = {"name": path.stem, "capabilities": sorted(caps)}
        rows.append(row)
        try:
            synth = synthesize_template(
                template, bos_token=bos, eos_token=eos, add_bos_token=add_bos
            )
        except ForgeError as exc:
            row["error"] = f"synthesis refused: {exc.message}"
            continue
        if synth is None:
            row["error"] = "synthesis: not expressible"
            continue
        try:
            report = compare_tool_suite(
                template,
                synth.go_template,
                bos_token=bos,
                eos_token=eos,
                add_bos_token=add_bos,
                system=synth.default_system,
                server_version="0.33.0",
            )
        except ForgeError as exc:
            row["error"] = f"comparison failed: {exc.message}"
            continue
        row["identical"] = report.identical
        row["path"] = report.server_path.path.value
        row["bypassed"] = any("bypassed" in w for w in report.server_path.warnings)
        row["conversations"] = {r.name: _state(r) for r in report.results}
        row["round_trips"] = {t.conversation: t.recovered for t in report.round_trips}
        row["tool_tags"] = sorted({t.tag for t in report.round_trips})
        row["first_difference"] = next(
            (
                {
                    "conversation": r.name,
                    "offset": r.offset,
                    "expected": r.expected_context,
                    "actual": r.actual_context,
                    "why": r.refused or r.error,
                }
                for r in report.results
                if not r.identical and r.skipped_reason is None
            ),
            None,
        )
    counted = [r for r in rows if "identical" in r]
    outcome = Counter()
    for r in rows:
        for state in r.get("conversations", {}).values():
            outcome[state] += 1
    return {
        "templates": len(rows),
        "identical": sum(1 for r in counted if r["identical"]),
        "not_synthesised": len(rows) - len(counted),
        "bypassed_on_0_33": sum(1 for r in counted if r["bypassed"]),
        "round_trips_recovered": sum(v for r in counted for v in r["round_trips"].values()),
        "round_trips": sum(len(r["round_trips"]) for r in counted),
        "tool_tags": dict(Counter(tag for r in counted for tag in r.get("tool_tags", []))),
        "conversation_outcomes": dict(outcome),
        "rows": rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.only)
    if args.json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
        return 0
    for row in result["rows"]:
        state = "SAME" if row.get("identical") else "DIFF" if "identical" in row else "N/A "
        print(
            f"{state} {row['name']:<48} {row.get('path', '-'):<13} {row.get('conversations', row.get('error'))}"
        )
    print({k: v for k, v in result.items() if k != "rows"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
