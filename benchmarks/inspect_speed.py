"""Benchmark: forge's GGUF reader and `forge inspect --json` vs gguf-py's GGUFReader.

    python benchmarks/inspect_speed.py [PATH.gguf] [--runs N] [--skip-gguf-py]

Without PATH it uses the real Gemma 3 270M GGUF from the test assets (assembled on first use).
Prints: the reader's metadata parse time (first call in the process, which includes importing
numpy for the 262k-token vocabulary scan, and the median of warm calls), the wall time of
`forge inspect --json` as a whole process, GGUFReader's open time and the ratios, and how long
a 49-byte array bomb (count 2^63) takes to be rejected.
"""

from __future__ import annotations

import os
import sys

# This file is named like the stdlib ``inspect`` module: drop its folder from sys.path first
# so libraries importing ``inspect`` get the real one.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse  # noqa: E402
import statistics  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def default_path() -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from assets import gemma_gguf

    return gemma_gguf()


def _timed(fn: object) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) for one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()  # type: ignore[operator]
    return time.perf_counter() - wall, time.process_time() - cpu


def _median(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def time_reader(path: Path, runs: int) -> dict[str, tuple[float, float]]:
    """First call and warm medians: without numpy (fresh-CLI path) and with numpy loaded."""
    out: dict[str, tuple[float, float]] = {}
    out["import"] = _timed(lambda: __import__("ollama_forge.gguf"))
    from ollama_forge.gguf import read_gguf

    assert "numpy" not in sys.modules, "numpy was imported before the first read"
    out["first"] = _timed(lambda: read_gguf(path))
    out["warm"] = _median([_timed(lambda: read_gguf(path)) for _ in range(runs)])
    out["numpy import"] = _timed(lambda: __import__("numpy"))
    read_gguf(path)
    out["warm numpy"] = _median([_timed(lambda: read_gguf(path)) for _ in range(runs)])
    return out


def time_cli(path: Path, runs: int) -> tuple[float, float]:
    import resource

    # Like an installed package: bytecode caches allowed (some dev shells set
    # PYTHONDONTWRITEBYTECODE, which recompiles every module in every process), one warm-up run.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    command = [sys.executable, "-m", "ollama_forge", "inspect", str(path), "--json"]
    subprocess.run(command, capture_output=True, cwd=ROOT, env=env)
    samples = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, cwd=ROOT, env=env)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        samples.append((wall, cpu))
        if proc.returncode != 0:
            raise SystemExit(proc.stderr.decode())
    return _median(samples)


def time_family(path: Path) -> tuple[float, float] | None:
    """The family detection inspect() runs (families module: loads and compiles its templates)."""
    try:
        from ollama_forge.families import detect_family
    except ImportError:
        return None
    from ollama_forge.gguf import read_gguf

    info = read_gguf(path)
    return _timed(lambda: detect_family(info))


def time_bomb() -> float:
    from ollama_forge.errors import GGUFError
    from ollama_forge.gguf import BytesSource, read_gguf

    data = (
        b"GGUF"
        + struct.pack("<IQQ", 3, 0, 1)
        + struct.pack("<Q", 1)
        + b"a"
        + struct.pack("<IIQ", 9, 0, 1 << 63)
    )
    samples = []
    for _ in range(200):
        start = time.perf_counter()
        try:
            read_gguf(BytesSource(data))
        except GGUFError:
            pass
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def time_gguf_py(path: Path) -> float:
    from gguf import GGUFReader

    start = time.perf_counter()
    GGUFReader(str(path))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("path", nargs="?", type=Path)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--skip-gguf-py", action="store_true", help="skip GGUFReader (takes ~15-20 s on Gemma)"
    )
    args = parser.parse_args()
    path = args.path or default_path()
    print(f"file: {path} ({path.stat().st_size / 2**20:.1f} MiB); wall / CPU milliseconds")
    t = time_reader(path, args.runs)

    def show(label: str, pair: tuple[float, float]) -> None:
        print(f"{label:<46}{pair[0] * 1000:9.1f} {pair[1] * 1000:9.1f}")

    show("import ollama_forge.gguf (pydantic, ...)", t["import"])
    show("read_gguf, first call (no numpy)", t["first"])
    show(f"read_gguf, warm median of {args.runs} (no numpy)", t["warm"])
    show("import numpy", t["numpy import"])
    show(f"read_gguf, warm median of {args.runs} (numpy loaded)", t["warm numpy"])
    cli = time_cli(path, max(3, args.runs // 2))
    show("`forge inspect --json`, whole process (median)", cli)
    family = time_family(path)
    if family is not None:
        show("  of which family detection (first call)", family)
    print(f"{'array bomb (2^63 x u8, 49 bytes) rejected in':<46}{time_bomb() * 1e6:9.1f} µs")
    if not args.skip_gguf_py:
        slow = _timed(lambda: time_gguf_py(path))
        show("gguf-py GGUFReader open", slow)
        for label, (wall, cpu) in (
            ("first call", t["first"]),
            ("warm, numpy loaded", t["warm numpy"]),
            ("whole forge process", cli),
        ):
            print(
                f"ratio GGUFReader / forge {label:<21}{slow[0] / wall:9.0f}x {slow[1] / cpu:8.0f}x"
            )


if __name__ == "__main__":
    main()
