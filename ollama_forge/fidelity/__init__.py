"""Fidelity of the prompt Ollama builds and of what it parses back, for an imported model.

* :mod:`.jinja` - the GGUF's Jinja chat template rendered as transformers does (:mod:`.jinja_env`
  the sandbox, :mod:`.jinja_worker` the guarded render process);
* :mod:`.ollama_prompt` - the prompt Ollama builds from a Go TEMPLATE (chat semantics, legacy path);
* :mod:`.conversations` - the verification conversation suite;
* :mod:`.compare` - Go TEMPLATE vs chat template, byte for byte on the suite (``verify_template``);
* :mod:`.synthesis` - a Go TEMPLATE synthesised from a chat template by probing (``go``, ``tools``);
* :mod:`.toolcall_parser` - Ollama's tool-call parser for Go TEMPLATE models (tools/ port);
* :mod:`.thinking_parser` - Ollama's thinking parser (thinking/parser.go port);
* :mod:`.chat_stream` - ChatHandler's output handling: what ``/api/chat`` sends back;
* :mod:`.server_path` - which prompt path a server version takes (Go TEMPLATE, native Jinja,
  built-in renderer, default) and what it refuses;
* :mod:`.conversations_tools` - the tool and thinking conversation suite in both request
  shapes, the byte comparison and the tool-call round trip;
* :mod:`.path_choice` - the path forge chooses for a Modelfile (TEMPLATE, reduced TEMPLATE Ollama
  >= 0.30 bypasses on purpose, or none) and the per-version statement in its comments;
* :mod:`.capabilities` - ``/api/show`` capabilities after registration against the template;
* :mod:`.live` - ``forge check --tools/--think``: a real tool / thinking request through Ollama.
"""
