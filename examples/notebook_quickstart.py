"""The Python API on the demo model. Run `forge demo` once first (it puts the real Gemma 3 270M
GGUF under models/gemma-3-270m/ and records it in forge's store as "gemma-3-270m").

    python examples/notebook_quickstart.py
"""

import ollama_forge as forge

# 1. Inspect: metadata, quant, context, memory estimate at a chosen context.
report = forge.inspect("gemma-3-270m", ctx=4096)
print(report.info.architecture, report.info.quant, report.info.context_length)
print(f"weights + KV cache at 4096 tokens: {report.memory.total_bytes / 2**20:.0f} MiB")

# 2. The Modelfile forge would write. Gemma 3 270M is a base model without a chat template,
#    so forge writes a plain completion template and says so instead of guessing.
modelfile = forge.build_modelfile("gemma-3-270m")
print(modelfile.render())

# 3. The exact prompt Ollama builds for a conversation with a given Go TEMPLATE.
gemma3_template = (
    "{{- range $i, $_ := .Messages }}{{- $last := eq (len (slice $.Messages $i)) 1 }}"
    '{{- if eq .Role "user" }}<start_of_turn>user\n{{ .Content }}<end_of_turn>\n'
    "{{ if $last }}<start_of_turn>model\n{{ end }}"
    '{{- else if eq .Role "assistant" }}<start_of_turn>model\n{{ .Content }}'
    "{{ if not $last }}<end_of_turn>\n{{ end }}{{ end }}{{ end }}"
)
print(forge.render_prompt(gemma3_template, [{"role": "user", "content": "Hi!"}]))

# 4. Real generation through embedded llama.cpp, with a Modelfile (here: a few-shot dialogue
#    format the base model follows, with a stop string that ends the reply).
from ollama_forge.workflows.demo import dialogue_modelfile  # noqa: E402

path = report.info.path
result = forge.chat(
    path, prompt="What is the capital of France?", modelfile=dialogue_modelfile(path), max_tokens=24
)
print("reply:", result.reply.text, "| ended by", result.reply.stopped_by)
