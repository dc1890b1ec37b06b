#!/usr/bin/env bash
# The two-step flow against the real Hub and a running Ollama (needs network and `ollama serve`).
set -euo pipefail
REPO=${1:-bartowski/Qwen2.5-0.5B-Instruct-GGUF}

forge quants "$REPO" --ctx 8192                    # variants, sizes, shards, projector, fit
forge inspect "$REPO:Q4_K_M"                        # header only over HTTP Range; no weights
forge pull-gguf "$REPO:Q4_K_M" --name qwen-small    # verified (sha256), resumable, into models/qwen-small/
forge modelfile qwen-small -o models/qwen-small/Modelfile   # family template, stops, num_ctx
forge verify qwen-small                             # TEMPLATE renders the model's own chat template
forge check qwen-small                              # real generation: does it stop cleanly?
forge register qwen-small                           # blobs + /api/create; digests reused from the pull
forge ps --require-gpu                              # exit 1 unless fully on the GPU (after a first chat)
