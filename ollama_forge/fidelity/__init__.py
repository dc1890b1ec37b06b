"""Fidelity of the prompt and the replies Ollama really produces for an imported model.

* :mod:`.toolcall_parser` - Ollama's tool-call parser for Go TEMPLATE models (tools/ port);
* :mod:`.server_path` - which prompt path a server version takes (Go TEMPLATE, native Jinja,
  built-in renderer, default) and what it will refuse;
* :mod:`.conversations_tools` - the tool and thinking conversation suite, both input shapes.
"""
