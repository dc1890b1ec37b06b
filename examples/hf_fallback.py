"""A model without a GGUF through a transformers pipeline (pip install 'hf-ollama-forge[hf]').

`HuggingFacePipeline.from_model_id(device="mps")` fails; forge builds the pipeline itself with a
device string (cuda, then mps, then cpu) and a matching dtype, then wraps it for LangChain.

    python examples/hf_fallback.py microsoft/Phi-3-mini-4k-instruct
    python examples/hf_fallback.py /path/to/a/local/model/folder

Offline, or without the [hf] extra, it exits 1 with forge's message and the fix.
"""

import sys

import ollama_forge as forge


def main(model: str) -> None:
    chat = forge.hf_chat_model(model, device="auto", dtype="auto", max_new_tokens=64)
    print(chat.invoke([("system", "You are terse."), ("human", "Say hi.")]).content)
    for chunk in chat.stream("Count to three."):
        print(chunk.content, end="", flush=True)
    print()


if __name__ == "__main__":
    try:
        main(sys.argv[1] if len(sys.argv) > 1 else "microsoft/Phi-3-mini-4k-instruct")
    except forge.ForgeError as exc:
        sys.exit(f"error: {exc}\nfix: {exc.hint}" if exc.hint else f"error: {exc}")
