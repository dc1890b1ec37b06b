"""A validated ChatOllama for a model registered with `forge register` (needs a running Ollama).

    python examples/chat_with_ollama.py qwen-small

Without a reachable Ollama server it exits 1 with forge's message and the fix.
"""

import sys

from pydantic import BaseModel

import ollama_forge as forge


class City(BaseModel):
    name: str
    country: str


def main(name: str) -> None:
    # Misspelled or removed options (num_predcit, mirostat) are errors here, not silently dropped;
    # the client gets a finite timeout.
    llm = forge.chat_model(name, temperature=0.2, num_ctx=8192, num_predict=128, seed=42)
    print(llm.invoke("In one sentence: why do GGUF imports need the right stop tokens?").content)

    structured = forge.chat_model(
        name, temperature=0, num_predict=128, format=City
    )  # pydantic -> JSON schema
    print(City.model_validate_json(structured.invoke("Name a city in Japan as JSON.").content))


if __name__ == "__main__":
    try:
        main(sys.argv[1] if len(sys.argv) > 1 else "qwen-small")
    except forge.ForgeError as exc:
        sys.exit(f"error: {exc}\nfix: {exc.hint}" if exc.hint else f"error: {exc}")
