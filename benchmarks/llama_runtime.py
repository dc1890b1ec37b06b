"""Tokens/s of the embedded llama.cpp runtime on the real Gemma 3 270M GGUF, per setting.

The extra buffer types (AMX tiles, CPU weight repacking) are llama.cpp's fast path; on hosts that
advertise a feature that does not work (AMX on some VMs) they crash the process. forge probes in
a child process and turns them off only where they crash. This prints, each measured in its own
child process so a crash is a result rather than the end of the benchmark:

* generation tokens/s and prompt tokens/s with extra buffer types on and off,
* the ratio off/on where both run (the speed cost of the fallback),
* the one-time cost of forge's probe on this host (two children when the first one crashes).

    python benchmarks/llama_runtime.py [--tokens 64] [--gguf PATH]
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
import llama_cpp
from ollama_forge.runners.llama_probe import load_llama
path, extra, n = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
llm = load_llama(llama_cpp, {"model_path": path, "n_ctx": 1024, "n_batch": 512, "verbose": False}, use_extra_bufts=extra)
prompt = llm.tokenize((" ".join(["The quick brown fox jumps over the lazy dog."] * 30)).encode(), add_bos=True)
t0 = time.perf_counter(); count = 0; first = None
for _ in llm.generate(prompt, temp=0.0, top_k=1):
    count += 1
    if first is None:
        first = time.perf_counter()
    if count >= n:
        break
t1 = time.perf_counter()
print(json.dumps({"prompt_tokens": len(prompt), "prompt_tps": len(prompt) / (first - t0),
                  "gen_tps": (count - 1) / (t1 - first)}))
"""


def measure(path: Path, extra: bool, tokens: int) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), "1" if extra else "0", str(tokens)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode < 0:
        return {"crashed": signal.Signals(-done.returncode).name}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--gguf", type=Path, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    from assets import gemma_gguf

    path = args.gguf or gemma_gguf()
    results = {}
    for extra in (True, False):
        results[extra] = measure(path, extra, args.tokens)
        label = "on " if extra else "off"
        r = results[extra]
        if "gen_tps" in r:
            print(
                f"extra buffer types {label}: generation {r['gen_tps']:.1f} tok/s, prompt {r['prompt_tps']:.1f} tok/s"
            )
        else:
            print(f"extra buffer types {label}: {r}")
    on, off = results[True], results[False]
    if "gen_tps" in on and "gen_tps" in off:
        print(
            f"ratio off/on: generation {float(off['gen_tps']) / float(on['gen_tps']):.2f}, "
            f"prompt {float(off['prompt_tps']) / float(on['prompt_tps']):.2f}"
        )
    else:
        print("ratio off/on: not measurable here (the fast path does not run on this host)")
    import os

    from ollama_forge.runners import llama_probe

    with tempfile.TemporaryDirectory() as home:
        os.environ["FORGE_HOME"] = home
        started = time.perf_counter()
        probe = llama_probe.probe_runtime(path, refresh=True)
        first = time.perf_counter() - started
        llama_probe._MEMO.clear()
        started = time.perf_counter()
        llama_probe.probe_runtime(path)
        again = time.perf_counter() - started
    print(
        f"forge's probe: {first:.2f} s once per host ({len(probe.attempts)} child process(es); "
        f"chose extra buffer types {'on' if probe.extra_buffer_types else 'off'}), {again * 1000:.1f} ms when remembered"
    )


if __name__ == "__main__":
    main()
