"""Bytes fetched by ``forge inspect owner/repo`` (remote, Range requests) on the real Gemma GGUF.

    .venv/bin/python benchmarks/remote_inspect.py [--json] [--chunk BYTES]

The real Gemma 3 270M Q4_K_M GGUF (253 MB, 262k-token vocabulary) is served by the local Hub
(``tests/servers/hub_server.py``). ``forge.inspect("bench/gemma-3-270m-it-GGUF")`` lists the
repo, picks the variant and parses the header over HTTP Range requests. The server's request log
gives the bytes it really sent; the goal is *header size + at most one chunk*. The report is
compared with the local report of the same file (same family, template, context, memory).

``--range-extra MIB`` makes the server's 206 answers run on MIB past the requested range (a
hostile or broken server, Content-Length included): the fetched bytes and the peak RSS must not
grow with it (issue 12: 800 MiB extra used to reach 1.7 GB RSS).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")

REPO = "bench/gemma-3-270m-it-GGUF"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--chunk", type=int, default=None, help="override the Range chunk size")
    parser.add_argument(
        "--range-extra",
        type=int,
        default=0,
        metavar="MIB",
        help="hostile server: 206 bodies run on MIB past the range",
    )
    args = parser.parse_args(argv)

    from assets import gemma_gguf
    from servers.hub_server import HubServer

    import ollama_forge as forge
    from ollama_forge.hub import remote

    if args.chunk:
        remote.CHUNK = args.chunk
    gemma = gemma_gguf()
    with tempfile.TemporaryDirectory(prefix="forge-bench-remote-") as tmp:
        os.environ.update({"HF_HOME": f"{tmp}/hf", "FORGE_HOME": f"{tmp}/forge"})
        with HubServer() as server:
            os.environ["HF_ENDPOINT"] = server.endpoint
            server.add_repo(REPO, {"gemma-3-270m-it-Q4_K_M.gguf": gemma, "README.md": b"# gemma\n"})
            server.range_extra = args.range_extra * 1024 * 1024
            started = time.perf_counter()
            report = forge.inspect(REPO)
            seconds = time.perf_counter() - started
            peak_rss = _peak_rss()
            body_gets = [r for r in server.file_gets() if r.status in (200, 206)]  # not the 302s
            served = sum(r.body_bytes for r in body_gets)
            ranges = [r.headers.get("range") for r in body_gets]
            redirects = sum(1 for r in server.file_gets() if r.status == 302)
        local = forge.inspect(str(gemma))
    info = report.info
    rem: dict[str, Any] = report.remote or {}
    chunk = int(rem["chunk_size"])
    result = {
        "file": rem["file"],
        "file_size": rem["file_size"],
        "header_size": info.header_size,
        "bytes_fetched": rem["bytes_fetched"],
        "bytes_served_by_server": served,
        "requests": rem["requests"],
        "hub_redirects": redirects,
        "ranges": ranges,
        "chunk_size": chunk,
        "overshoot_bytes": rem["bytes_fetched"] - info.header_size,
        "goal_bytes": info.header_size + chunk,
        "goal_met": rem["bytes_fetched"] <= info.header_size + chunk,
        "fraction_of_file": round(rem["bytes_fetched"] / rem["file_size"], 5),
        "seconds": round(seconds, 3),
        "range_extra_bytes": args.range_extra * 1024 * 1024,
        "peak_rss_bytes": peak_rss,
        "architecture": info.architecture,
        "context_length": info.context_length,
        "quant": info.quant,
        "family": report.family,
        "memory_total_bytes": report.memory.total_bytes,
        "same_as_local_report": (
            local.info.model_dump(exclude={"path", "file_size", "size_checked"})
            == info.model_dump(exclude={"path", "file_size", "size_checked"})
            and local.memory == report.memory
        ),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"remote inspect of {result['file']} ({result['file_size']:,} bytes) on the local Hub:"
        )
        print(
            f"  header {result['header_size']:,} B; fetched {result['bytes_fetched']:,} B in {result['requests']} "
            f"Range requests ({result['ranges']}; {redirects} redirect from the Hub to the CDN), "
            f"{result['fraction_of_file'] * 100:.2f}% of the file; the server sent {served:,} B"
        )
        print(
            f"  overshoot {result['overshoot_bytes']:,} B (chunk {chunk:,}); goal header + one chunk = "
            f"{result['goal_bytes']:,} B -> {'met' if result['goal_met'] else 'MISSED'}"
        )
        print(
            f"  {result['architecture']}, ctx {result['context_length']}, {result['quant']}, family "
            f"{result['family']}; same report as the local file: {result['same_as_local_report']}; "
            f"{result['seconds']} s"
        )
        print(
            f"  peak RSS {peak_rss / 2**20:.0f} MiB (206 bodies padded by {args.range_extra} MiB)"
        )
    return 0 if result["goal_met"] else 1


def _peak_rss() -> int:
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # KiB on Linux


if __name__ == "__main__":
    raise SystemExit(main())
