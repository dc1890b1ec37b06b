"""Use cases, one module each: what one ``forge`` command (or public function) does, end to end.

``plan`` (the Modelfile for a GGUF), ``inspect``, ``verify`` (and ``render``), ``register``,
``check``, ``chat``, ``doctor``, ``demo``; ``targets`` resolves what the user named. A workflow
calls the steps (hub, gguf, families, fidelity, modelfile, ollama, runners) and returns typed
results; it never prints (cli/ does). tests/test_layers.py keeps the layering.
"""
