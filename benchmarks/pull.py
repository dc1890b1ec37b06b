"""Pull throughput and resume-after-kill: forge vs plain ``hf_hub_download``, same local Hub.

    .venv/bin/python benchmarks/pull.py [--mb 300] [--runs 3] [--json]

1. **Throughput.** A generated GGUF (random Q8_0 tensor data, ``--mb`` MiB) is served by
   ``tests/servers/hub_server.py`` in a separate process (so the server does not share the
   client's GIL). Each run downloads it into a fresh cache, alternating between
   ``hf_hub_download`` (size check only) and ``forge.pull_gguf`` (SHA-256 verified against the
   LFS metadata, recorded in the store, hard-linked into models/), after one untimed warm-up
   run of each (imports, connections). Medians are compared;
   the goal is forge/hf >= 0.9 *including* verification. For reference the time of
   ``hf_hub_download`` followed by a separate sha256 pass is also reported.
2. **Resume after SIGKILL.** The server is throttled, a child process running each client is
   killed mid-file, the throttle is lifted and the download run again. The server's request
   log shows what the rerun asked for (``Range``) and how many bytes it had to send.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import statistics
import subprocess
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
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

REPO = "bench/pull-GGUF"
FILE = "pull-Q8_0.gguf"
MIB = 1024 * 1024

from ggufs import big_gguf  # noqa: E402  (tests/ is on sys.path above)


class Server:
    """tests/servers/hub_server.py in its own process, controlled over HTTP."""

    def __init__(self, file: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "servers" / "hub_server.py"), REPO, str(file)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("HF_ENDPOINT="):
            raise RuntimeError(f"hub server did not start: {line!r}")
        self.endpoint = line.partition("=")[2]

    def control(self, action: str, **params: Any) -> Any:
        import httpx

        return httpx.get(f"{self.endpoint}/_control/{action}", params=params, timeout=30).json()

    def file_gets(self) -> list[dict[str, Any]]:
        return [
            r
            for r in self.control("requests")
            if r["method"] == "GET" and r["path"].startswith("/cdn/")
        ]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def fresh_env(base: Path, endpoint: str) -> dict[str, str]:
    base.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        {
            "HF_ENDPOINT": endpoint,
            "HF_HOME": str(base / "hf"),
            "FORGE_HOME": str(base / "forge"),
            "FORGE_MODELS_DIR": str(base / "models"),
        }
    )
    env.pop("HF_HUB_CACHE", None)
    env.pop("HF_TOKEN", None)
    return env


def run_hf(endpoint: str, base: Path) -> float:
    from huggingface_hub import hf_hub_download

    started = time.perf_counter()
    hf_hub_download(REPO, FILE, cache_dir=base / "hf" / "hub", endpoint=endpoint)
    return time.perf_counter() - started


def run_forge(endpoint: str, base: Path) -> tuple[float, float]:
    """(whole pull, transfer + sha256 verification only) in seconds."""
    import ollama_forge as forge

    os.environ.update(fresh_env(base, endpoint))
    started = time.perf_counter()
    result = forge.pull_gguf(REPO)
    return time.perf_counter() - started, result.transfer_seconds


def sha256_file(path: Path) -> float:
    started = time.perf_counter()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(4 * MIB):
            digest.update(block)
    return time.perf_counter() - started


HF_CHILD = (
    "import sys; from huggingface_hub import hf_hub_download; "
    "hf_hub_download(sys.argv[1], sys.argv[2], cache_dir=sys.argv[3], endpoint=sys.argv[4])"
)


def kill_and_rerun(server: Server, work: Path, client: str, size: int, sha: str) -> dict[str, Any]:
    """SIGKILL a child mid-file, rerun unthrottled; report what the rerun requested and received."""
    base = work / f"kill-{client}"
    env = fresh_env(base, server.endpoint)
    blobs = base / "hf" / "hub" / ("models--" + REPO.replace("/", "--")) / "blobs"
    if client == "hf":
        cmd = [
            sys.executable,
            "-c",
            HF_CHILD,
            REPO,
            FILE,
            str(base / "hf" / "hub"),
            server.endpoint,
        ]
        pattern = "*.incomplete"
    else:
        cmd = [sys.executable, "-m", "ollama_forge", "pull-gguf", REPO, "--json"]
        pattern = "*.forge-partial"
    server.control("clear")
    server.control("throttle", bps=str(40 * MIB))
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial_size = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        found = list(blobs.glob(pattern)) if blobs.exists() else []
        partial_size = found[0].stat().st_size if found else 0
        if partial_size >= size // 3:
            break
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    found = list(blobs.glob(pattern)) if blobs.exists() else []
    left = found[0].stat().st_size if found else 0
    first = server.file_gets()
    served_before_kill = sum(r["body_bytes"] for r in first)
    server.control("throttle", bps="")
    server.control("clear")
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if rerun.returncode != 0:
        raise RuntimeError(f"{client} rerun failed: {rerun.stderr[-2000:]}")
    gets = server.file_gets()
    final = blobs / sha
    return {
        "client": client,
        "killed_with_partial_bytes": left,
        "served_before_kill": served_before_kill,
        "rerun_range_headers": [r["headers"].get("range") for r in gets],
        "rerun_bytes_served": sum(r["body_bytes"] for r in gets),
        "file_size": size,
        "complete_and_correct": final.exists() and final.stat().st_size == size,
        "orphaned_partials": sorted(p.name for p in blobs.glob("*.incomplete"))
        if client == "hf"
        else [],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=300, help="size of the generated GGUF in MiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--skip-kill", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="forge-bench-pull-") as tmp:
        work = Path(tmp)
        src = big_gguf(work / FILE, megabytes=args.mb)
        size = src.stat().st_size
        digest = hashlib.sha256(src.read_bytes()).hexdigest()
        server = Server(src)
        try:
            # warm-up (imports, connection set-up), not timed
            run_hf(server.endpoint, work / "warm-hf")
            run_forge(server.endpoint, work / "warm-forge")
            hf_times: list[float] = []
            forge_times: list[float] = []
            transfer_times: list[float] = []
            sha_times: list[float] = []
            for i in range(args.runs):
                hf_base = work / f"hf-{i}"
                hf_times.append(run_hf(server.endpoint, hf_base))
                blob = (
                    hf_base
                    / "hf"
                    / "hub"
                    / ("models--" + REPO.replace("/", "--"))
                    / "blobs"
                    / digest
                )
                sha_times.append(sha256_file(blob))
                whole, transfer = run_forge(server.endpoint, work / f"forge-{i}")
                forge_times.append(whole)
                transfer_times.append(transfer)
                import shutil

                shutil.rmtree(hf_base, ignore_errors=True)
                shutil.rmtree(work / f"forge-{i}", ignore_errors=True)
            hf_t, forge_t, sha_t, xfer_t = (
                statistics.median(x) for x in (hf_times, forge_times, sha_times, transfer_times)
            )
            result: dict[str, Any] = {
                "file_mib": round(size / MIB, 1),
                "runs": args.runs,
                "hf_hub_download_s": round(hf_t, 3),
                "hf_hub_download_mib_s": round(size / MIB / hf_t, 1),
                "hf_plus_sha256_pass_s": round(hf_t + sha_t, 3),
                "forge_pull_verified_s": round(forge_t, 3),
                "forge_pull_mib_s": round(size / MIB / forge_t, 1),
                "forge_transfer_verify_s": round(xfer_t, 3),
                "ratio_forge_vs_hf": round(hf_t / forge_t, 3),
                "ratio_forge_transfer_verify_vs_hf": round(hf_t / xfer_t, 3),
                "ratio_forge_vs_hf_plus_sha256": round((hf_t + sha_t) / forge_t, 3),
                "all_hf_s": [round(t, 3) for t in hf_times],
                "all_forge_s": [round(t, 3) for t in forge_times],
                "all_forge_transfer_s": [round(t, 3) for t in transfer_times],
                "load_average": os.getloadavg(),
                "goal": "ratio_forge_vs_hf >= 0.9 (forge includes sha256 verification)",
            }
            if not args.skip_kill:
                result["kill_resume"] = [
                    kill_and_rerun(server, work, "hf", size, digest),
                    kill_and_rerun(server, work, "forge", size, digest),
                ]
        finally:
            server.stop()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"file: {result['file_mib']} MiB, median of {args.runs} runs, same local Hub (separate process)"
        )
        print(
            f"  hf_hub_download          {result['hf_hub_download_s']:>7} s  {result['hf_hub_download_mib_s']} MiB/s (size check only)"
        )
        print(f"  hf_hub_download + sha256 {result['hf_plus_sha256_pass_s']:>7} s")
        print(
            f"  forge pull_gguf          {result['forge_pull_verified_s']:>7} s  {result['forge_pull_mib_s']} MiB/s (sha256 verified)"
        )
        print(
            f"    of which transfer + sha256 {result['forge_transfer_verify_s']} s (the rest: listing, the store's "
            "fsync, which flushes the just-written blob to disk)"
        )
        print(
            f"  throughput ratio forge/hf: {result['ratio_forge_vs_hf']} end to end, "
            f"{result['ratio_forge_transfer_verify_vs_hf']} transfer+verify (goal >= 0.9); "
            f"vs hf+sha256: {result['ratio_forge_vs_hf_plus_sha256']}"
        )
        print(f"  load average during the run: {result['load_average']}")
        for k in result.get("kill_resume", []):
            print(
                f"  kill+rerun [{k['client']}]: partial kept {k['killed_with_partial_bytes']} B, rerun Range "
                f"{k['rerun_range_headers']}, rerun served {k['rerun_bytes_served']} of {k['file_size']} B, "
                f"correct={k['complete_and_correct']}, orphans={k['orphaned_partials']}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
