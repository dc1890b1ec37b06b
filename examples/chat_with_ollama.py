"""A validated ChatOllama for a model registered with `forge register` (needs a running Ollama).

    python examples/langchain_ollama.py qwen-small
"""

import sys

from pydantic import BaseModel

import ollama_forge as forge

name = sys.argv[1] if len(sys.argv) > 1 else "qwen-small"

# Misspelled or removed options (num_predcit, mirostat) are errors here, not silently dropped;
# the client gets a finite timeout.
llm = forge.chat_model(name, temperature=0.2, num_ctx=8192, num_predict=128, seed=42)
print(llm.invoke("In one sentence: why do GGUF imports need the right stop tokens?").content)


class City(BaseModel):
    name: str
    country: str


structured = forge.chat_model(name, temperature=0, format=City)  # a pydantic model -> JSON schema
print(City.model_validate_json(structured.invoke("Name a city in Japan as JSON.").content))
