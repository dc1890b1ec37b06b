"""Bytes forge reads from disk when registering a model, against the local test Ollama server.

Cases (each against a fresh server unless noted):

1. first registration of a local GGUF forge has never seen (digest unknown: hash, then upload);
2. re-registration of the same weights with a new SYSTEM (same server: HEAD says present);
3. the two-step flow: ``forge pull-gguf`` recorded a Hub-verified digest, then ``forge register``;
4. for comparison, ollama-python's ``Client.create_blob`` (hash, then POST without HEAD), every time;
5. time to the first ``/api/create`` byte of ``forge register`` run as a command (a new process,
   as a user runs it), on a re-run of a known file: the total from process start, the stand-in
   server's share (time inside its handlers before create) and forge's own work (the rest:
   interpreter start, imports, Modelfile and GGUF header read, template decision, digests).

Bytes are counted three ways: forge's ``DISK_READS`` counter (what forge read itself), the
process's ``rchar`` from ``/proc/self/io`` (every byte read by any read() call; the server runs
in a subprocess so its socket reads are not included), and ``read_bytes`` from the same file
(bytes actually fetched from storage). Before each case the weights are evicted from the page
cache (``posix_fadvise(DONTNEED)``), so ``read_bytes`` is what a cold registration reads from disk.

    python benchmarks/register.py [--size-mb 256]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

SERVER = (
    "import sys, time; sys.path.insert(0, {tests!r});"
    "from servers.ollama_server import OllamaServer;"
    "s = OllamaServer(version='0.33.0').start(); print(s.url, flush=True);"
    "sys.stdin.read()"
)


def proc_io(field: str) -> int | None:
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def evict(path: Path) -> None:
    """Drop the file's pages from the page cache so the next read comes from storage."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


class Server:
    def __enter__(self) -> str:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER.format(tests=str(ROOT / "tests"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def __exit__(self, *exc: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)


def make_gguf(path: Path, size_mb: int) -> Path:
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("bench")
    writer.add_block_count(1)
    writer.add_context_length(4096)
    writer.add_token_list(["<s>", "</s>", "a"])
    rows = size_mb * 1024 * 1024 // 4 // 1024
    rng = np.random.default_rng(0)
    writer.add_tensor("blk.0.weight", rng.standard_normal((rows, 1024), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def measure(label: str, model: Path, fn: object) -> dict[str, object]:
    from ollama_forge.digests import DISK_READS

    evict(model)
    d0, r0, s0, t0 = (
        DISK_READS.bytes_read,
        proc_io("rchar"),
        proc_io("read_bytes"),
        time.perf_counter(),
    )
    result = fn()  # type: ignore[operator]
    wall = time.perf_counter() - t0
    d1, r1, s1 = DISK_READS.bytes_read, proc_io("rchar"), proc_io("read_bytes")

    def delta(a: int | None, b: int | None) -> int | None:
        return b - a if a is not None and b is not None else None

    return {
        "case": label,
        "file": model.stat().st_size,
        "forge_reads": d1 - d0,
        "rchar": delta(r0, r1),
        "storage": delta(s0, s1),
        "wall_s": wall,
        "uploaded": getattr(result, "bytes_uploaded", None),
    }


def time_to_create(model_dir: Path, runs: int) -> list[dict[str, float]]:
    """Case 5: ``forge register`` subprocesses against an in-process stand-in that time-stamps requests."""
    from servers.ollama_server import OllamaServer

    # a normal install caches bytecode; this sandbox may set PYTHONDONTWRITEBYTECODE
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(model_dir / "pycache")
    forge = [
        sys.executable,
        "-m",
        "ollama_forge",
        "register",
        "bench",
        "-f",
        str(model_dir / "Modelfile"),
    ]
    out = []
    with OllamaServer(model_dir / "ollama", version="0.32.15") as server:
        for i in range(runs + 1):
            seen = len(server.state.requests)
            start = time.time()
            done = subprocess.run(
                [*forge, "--host", server.url], env=env, capture_output=True, text=True
            )
            total = time.time() - start
            if done.returncode:
                raise SystemExit(done.stderr)
            requests = server.state.requests[seen:]
            create = next(r for r in requests if r.path == "/api/create")
            share = sum(r.finished - r.started for r in requests if r.started < create.started)
            if i:  # run 0 registers (and warms the bytecode cache); the re-runs are measured
                out.append(
                    {
                        "to_create": create.started - start,
                        "server": share,
                        "forge": create.started - start - share,
                        "total": total,
                    }
                )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--runs", type=int, default=5, help="re-runs measured in case 5")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="forge-bench-") as tmp:
        work = Path(tmp)
        os.environ["FORGE_HOME"] = str(work / "forge")
        from ollama_forge.store import Store
        from ollama_forge.workflows.register import register

        model = make_gguf(work / "bench-f32.gguf", args.size_mb)
        size = model.stat().st_size
        modelfile = work / "Modelfile"
        modelfile.write_text('FROM ./bench-f32.gguf\nTEMPLATE """{{ .Prompt }}"""\nSYSTEM first\n')
        rows = []
        with Server() as url:
            rows.append(
                measure(
                    "1. first registration, unknown local file",
                    model,
                    lambda: register("bench", modelfile=modelfile, host=url),
                )
            )
            rows.append(
                measure(
                    "2. re-register, new SYSTEM (same server)",
                    model,
                    lambda: register("bench", modelfile=modelfile, host=url, system="second"),
                )
            )
        with Server() as url:
            # what `forge pull-gguf` records: the Hub's LFS sha256, verified while downloading
            digest = hashlib.sha256(model.read_bytes()).hexdigest()
            os.environ["FORGE_HOME"] = str(work / "forge2")
            Store().remember_sha256(model, digest, source="hub-verified")
            rows.append(
                measure(
                    "3. two-step flow (digest trusted from pull)",
                    model,
                    lambda: register("bench", modelfile=modelfile, host=url),
                )
            )
        with Server() as url:
            import ollama

            client = ollama.Client(host=url)
            rows.append(
                measure(
                    "4. ollama-python create_blob (for comparison)",
                    model,
                    lambda: client.create_blob(model),
                )
            )
            rows.append(
                measure(
                    "4b. create_blob again (no HEAD: re-hash + re-send)",
                    model,
                    lambda: client.create_blob(model),
                )
            )
    print(f"file size: {size:,} bytes ({size / 1e6:.1f} MB)")
    print(
        f"{'case':<52} {'forge reads':>14} {'x size':>7} {'rchar':>14} {'x size':>7} "
        f"{'from disk':>14} {'x size':>7} {'wall s':>7}"
    )

    def cell(value: object) -> str:
        return (
            f"{value:>14,} {value / size:>7.2f}"
            if isinstance(value, int)
            else f"{'n/a':>14} {'':>7}"
        )

    for row in rows:
        print(
            f"{row['case']:<52} {cell(row['forge_reads'])} {cell(row['rchar'])} {cell(row['storage'])} "
            f"{row['wall_s']:>7.2f}"
        )
    with tempfile.TemporaryDirectory(prefix="forge-bench-") as tmp:
        folder = Path(tmp)
        os.environ["FORGE_HOME"] = str(folder / "forge")
        make_gguf(folder / "bench-f32.gguf", min(args.size_mb, 64))
        (folder / "Modelfile").write_text(
            'FROM ./bench-f32.gguf\nTEMPLATE """{{ .Prompt }}"""\nSYSTEM first\n'
        )
        timings = time_to_create(folder, args.runs)
    print(
        f"\n5. re-run `forge register` (new process), seconds to the first /api/create byte, {args.runs} runs:"
    )
    print(f"{'':<10} {'to create':>10} {'stand-in':>10} {'forge own':>10} {'whole run':>10}")
    for label, pick in (("best", min), ("median", lambda xs: sorted(xs)[len(xs) // 2])):
        print(
            f"{label:<10} "
            + " ".join(
                f"{pick([t[k] for t in timings]):>10.3f}"
                for k in ("to_create", "server", "forge", "total")
            )
        )


if __name__ == "__main__":
    main()
