"""Benchmark: worst-case time and peak RSS of the GGUF reader on hostile headers, per class.

    python benchmarks/hostile_inputs.py [--only NAME ...] [--scale 1.0] [--keep DIR]

Each class is a GGUF written on the fly (in a temporary folder) whose header stays inside the
reader's limits but maximises the work or memory it costs (issue 12). Each file is read in a
fresh subprocess: ``read_gguf`` + its JSON dump without numpy ("fresh") and with numpy
loaded ("numpy"), and the whole ``forge inspect --json`` command ("cli"); the time and peak
RSS come from ``resource.getrusage`` of that process.

Budget (issue 12): a 256 MiB header of any shape is read in <= ~1 GiB RSS and a few seconds,
or refused with a clear ForgeError. ``--scale`` shrinks the files for a quick run.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MiB = 1 << 20
STRING, ARRAY, UINT8, UINT32, BOOL, FLOAT32 = 8, 9, 0, 4, 7, 6


def gstr(raw: bytes) -> bytes:
    return struct.pack("<Q", len(raw)) + raw


def kv_head(key: str, vtype: int) -> bytes:
    return gstr(key.encode()) + struct.pack("<I", vtype)


def arr_head(key: str, elem: int, count: int) -> bytes:
    return kv_head(key, ARRAY) + struct.pack("<IQ", elem, count)


BASE = [
    kv_head("general.architecture", STRING) + gstr(b"llama"),
    kv_head("llama.block_count", UINT32) + struct.pack("<I", 1),
]


def write(path: Path, n_tensors: int, n_kv: int, parts: Iterator[bytes]) -> None:
    with open(path, "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, n_tensors, n_kv))
        for part in parts:
            f.write(part)


def repeated(unit: bytes, count: int) -> Iterator[bytes]:
    per = max(1, MiB // len(unit))
    block = unit * per
    full, rest = divmod(count, per)
    for _ in range(full):
        yield block
    yield unit * rest


def strings_file(path: Path, unit: bytes, count: int) -> None:
    """``tokenizer.ggml.tokens`` holding ``count`` copies of the record ``unit``."""
    write(
        path,
        0,
        3,
        iter([*BASE, arr_head("tokenizer.ggml.tokens", STRING, count), *repeated(unit, count)]),
    )


def mixed_zero_strings(path: Path, count: int) -> None:
    """Zero-filled strings of lengths 0..3 in a non-periodic order (defeats run detection)."""
    import random

    rng = random.Random(12)
    units = [struct.pack("<Q", n) + b"\x00" * n for n in range(4)]
    pattern = b"".join(units[rng.randrange(4)] for _ in range(4096))
    # 4096 records per pattern copy; a period of 4096 records is far beyond any run detection.
    reps, rest = divmod(count, 4096)

    def parts() -> Iterator[bytes]:
        yield from BASE
        yield arr_head("tokenizer.ggml.tokens", STRING, reps * 4096 + rest)
        for _ in range(reps):
            yield pattern
        yield b"".join(units[0] for _ in range(rest))

    write(path, 0, 3, parts())


def many_string_arrays(path: Path, n_kv: int, count: int) -> None:
    """``n_kv`` arrays of ``count`` empty strings each (every array below a size threshold)."""
    body = gstr(b"") * count

    def parts() -> Iterator[bytes]:
        yield from BASE
        for i in range(n_kv):
            yield arr_head(f"x.v{i}", STRING, count) + body

    write(path, 0, 2 + n_kv, parts())


def nested_file(path: Path, n_kv: int, count: int) -> None:
    empty = struct.pack("<IQ", UINT8, 0)

    def parts() -> Iterator[bytes]:
        yield from BASE
        for i in range(n_kv):
            yield arr_head(f"x.nested{i}", ARRAY, count)
            yield from repeated(empty, count)

    write(path, 0, 2 + n_kv, parts())


def tensors_file(path: Path, count: int) -> None:
    def parts() -> Iterator[bytes]:
        yield from BASE
        for i in range(count):
            yield gstr(b"t%d" % i) + struct.pack("<IQIQ", 1, 0, 0, 0)

    write(path, count, 2, parts())


def small_arrays_file(path: Path, n_kv: int, count: int, elem: int, size: int) -> None:
    body = b"\x01" * (count * size)

    def parts() -> Iterator[bytes]:
        yield from BASE
        for i in range(n_kv):
            yield arr_head(f"x.a{i}", elem, count) + body

    write(path, 0, 2 + n_kv, parts())


def small_string_arrays_file(path: Path, n_kv: int) -> None:
    body = gstr(b"\xff") * 64

    def parts() -> Iterator[bytes]:
        yield from BASE
        for i in range(n_kv):
            yield arr_head(f"x.s{i}", STRING, 64) + body

    write(path, 0, 2 + n_kv, parts())


def strings_kv_file(path: Path, n_kv: int, length: int) -> None:
    """Many string values of invalid UTF-8 (each byte decodes to U+FFFD)."""
    value = gstr(b"\xff" * length)

    def parts() -> Iterator[bytes]:
        yield from BASE
        for i in range(n_kv):
            yield kv_head(f"x.s{i}", STRING) + value

    write(path, 0, 2 + n_kv, parts())


def classes(scale: float) -> dict[str, Callable[[Path], None]]:
    def n(x: float) -> int:
        return max(1, int(x * scale))

    return {
        # the case: 16,777,216 empty strings (128 MiB)
        "empty-strings-16Mi": lambda p: strings_file(p, gstr(b""), n(16 * MiB)),
        # one NUL byte each: defeats the vectorised candidate filter
        "nul-strings-16Mi": lambda p: strings_file(p, gstr(b"\x00"), n(16 * MiB)),
        # lengths 0-3, zero-filled, no short period: the exact (per-record) path throughout
        "mixed-nul-strings-16Mi": lambda p: mixed_zero_strings(p, n(16 * MiB)),
        # 7,900 arrays of 4,095 empty strings (each small: the plain per-record loop)
        "small-string-arrays-7900x4095": lambda p: many_string_arrays(p, n(7_900), 4095),
        # 32 arrays of 999,999 empty strings (each below the size that imports numpy)
        "string-arrays-32x999999": lambda p: many_string_arrays(p, n(32), 999_999),
        # 85 x 65,536 empty nested arrays
        "nested-85x65536": lambda p: nested_file(p, n(85), 65_536),
        # 1,000,000 zero-size tensor infos
        "tensors-1M": lambda p: tensors_file(p, n(1_000_000)),
        # 60,000 x 4096-element BOOL arrays (each small enough to be decoded eagerly)
        "bool-arrays-60000x4096": lambda p: small_arrays_file(p, n(60_000), 4096, BOOL, 1),
        # 99,998 x 64-element string arrays of invalid UTF-8
        "string-arrays-99998x64": lambda p: small_string_arrays_file(p, n(99_998)),
        # 99,998 string values of 2,600 invalid bytes (~256 MiB, 2 bytes per char decoded)
        "strings-99998x2600": lambda p: strings_kv_file(p, n(99_998), 2600),
        # 15 strings of 16 MiB - 1 of invalid UTF-8
        "strings-15x16MiB": lambda p: strings_kv_file(p, n(15), 16 * MiB - 1),
    }


CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
outcome = "ok"
try:
    from ollama_forge.errors import ForgeError
    from ollama_forge.gguf import read_gguf
    info = read_gguf(sys.argv[1])
    text = json.dumps(info.model_dump(mode="json"))
except ForgeError as exc:
    outcome = f"refused: {type(exc).__name__}: {str(exc)[:150]}"
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"outcome": outcome, "wall_s": time.perf_counter() - t0,
                  "cpu_s": ru.ru_utime + ru.ru_stime, "maxrss_mib": ru.ru_maxrss / 1024}))
"""


CLI = r"""
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.run([sys.executable, "-m", "ollama_forge", "inspect", sys.argv[1], "--json"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
lines = proc.stderr.strip().splitlines()
outcome = "ok" if proc.returncode == 0 else f"exit {proc.returncode}: {(lines or [''])[0][:150]}"
print(json.dumps({"outcome": outcome, "wall_s": time.perf_counter() - t0,
                  "cpu_s": ru.ru_utime + ru.ru_stime, "maxrss_mib": ru.ru_maxrss / 1024}))
"""


def measure(path: Path, mode: str) -> dict[str, object]:
    code = {"fresh": CHILD, "numpy": "import numpy\n" + CHILD, "cli": CLI}[mode]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if proc.returncode != 0:
        return {"outcome": f"CRASH rc={proc.returncode}: {proc.stderr.strip()[-300:]}"}
    return json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="class names to run")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    parser.add_argument(
        "--modes",
        nargs="*",
        default=["fresh", "numpy", "cli"],
        help="fresh: read_gguf in a new process; numpy: numpy imported first; "
        "cli: the whole `forge inspect --json` process",
    )
    args = parser.parse_args()
    chosen = classes(args.scale)
    if args.only:
        chosen = {k: v for k, v in chosen.items() if k in args.only}
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(
            f"{'class':<28} {'MiB':>6} {'mode':>9} {'wall s':>7} {'cpu s':>6} {'RSS MiB':>8}  outcome"
        )
        for name, make in chosen.items():
            path = folder / f"{name}.gguf"
            make(path)
            size = path.stat().st_size / MiB
            for mode in args.modes:
                r = measure(path, mode)
                if "wall_s" in r:
                    print(
                        f"{name:<28} {size:6.0f} {mode:>9} {r['wall_s']:7.2f} {r['cpu_s']:6.2f} {r['maxrss_mib']:8.0f}  {r['outcome']}"
                    )
                else:
                    print(
                        f"{name:<28} {size:6.0f} {mode:>9} {'':>7} {'':>6} {'':>8}  {r['outcome']}"
                    )
            if not args.keep:
                path.unlink()


if __name__ == "__main__":
    main()
