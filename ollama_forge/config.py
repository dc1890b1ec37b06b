"""Configuration, read from the environment at call time (never frozen at import).

forge respects the ecosystem's variables:

* ``OLLAMA_HOST``: the Ollama server (default ``http://127.0.0.1:11434``)
* ``HF_TOKEN``, ``HF_HOME``, ``HF_HUB_CACHE``, ``HF_ENDPOINT``, ``HF_HUB_OFFLINE``: the Hub
* ``FORGE_HOME``: forge's own state (the store); default: the user data dir
* ``FORGE_MODELS_DIR``: where pulled models are made available; default ``./models``
* ``FORGE_FAMILIES``: a folder of user family templates that add to / override the built-in ones
* ``FORGE_DEBUG=1``: show tracebacks
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"
DEFAULT_HF_ENDPOINT = "https://huggingface.co"
_TRUE = {"1", "true", "yes", "on"}


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def debug_enabled() -> bool:
    return env_flag("FORGE_DEBUG")


def forge_home() -> Path:
    """Folder for forge's state (store, digest cache)."""
    value = os.environ.get("FORGE_HOME")
    if value:
        return Path(value).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("ollama-forge", appauthor=False))


def models_dir() -> Path:
    """Folder where pulled models are made available as ``<dir>/<name>/``."""
    value = os.environ.get("FORGE_MODELS_DIR")
    return (Path(value).expanduser() if value else Path.cwd() / "models").absolute()


def user_families_dir() -> Path | None:
    value = os.environ.get("FORGE_FAMILIES")
    return Path(value).expanduser() if value else None


def ollama_host() -> str:
    """The Ollama base URL, normalised the way the ollama client does it."""
    raw = os.environ.get("OLLAMA_HOST", "").strip()
    return normalize_ollama_host(raw) if raw else DEFAULT_OLLAMA_HOST


def normalize_ollama_host(raw: str) -> str:
    """``host``, ``host:port``, ``:port`` or a URL -> ``scheme://host:port`` (like ollama-python)."""
    from urllib.parse import urlsplit

    value = raw.strip()
    if not value:
        return DEFAULT_OLLAMA_HOST
    scheme = "http"
    if "://" in value:
        scheme, _, value = value.partition("://")
        if scheme not in ("http", "https"):
            raise ConfigError(
                f"Unsupported scheme {scheme!r} in Ollama host {raw!r}",
                hint="Use http://host:port or https://host:port (OLLAMA_HOST or --host).",
            )
    split = urlsplit(f"{scheme}://{value}")
    host = split.hostname or "127.0.0.1"
    if host == "0.0.0.0":
        host = "127.0.0.1"
    try:
        port = split.port
    except ValueError as exc:
        raise ConfigError(f"Invalid port in Ollama host {raw!r}", hint="Example: OLLAMA_HOST=127.0.0.1:11434") from exc
    if port is None:
        port = 443 if scheme == "https" and "://" in raw else 11434
    if ":" in host:
        host = f"[{host}]"
    path = split.path.rstrip("/")
    return f"{scheme}://{host}:{port}{path}"


def hf_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", DEFAULT_HF_ENDPOINT).rstrip("/")


def hf_offline() -> bool:
    return env_flag("HF_HUB_OFFLINE") or env_flag("TRANSFORMERS_OFFLINE")


def hf_token() -> str | None:
    """The token from HF_TOKEN (or the legacy variable); None lets huggingface_hub decide."""
    return os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or None


def hf_home() -> Path:
    value = os.environ.get("HF_HOME")
    if value:
        return Path(value).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface"


def hf_hub_cache() -> Path:
    value = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    return Path(value).expanduser() if value else hf_home() / "hub"
