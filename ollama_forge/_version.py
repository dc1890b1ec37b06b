__version__ = "0.2.0"

#: the name on PyPI ("ollama-forge" belongs to an unrelated project); import name ollama_forge
DISTRIBUTION = "hf-ollama-forge"


def install_hint(extra: str) -> str:
    """The pip command that installs one of forge's extras."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"
