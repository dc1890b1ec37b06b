"""Configuration, read from the environment at call time (never frozen at import).

forge respects the ecosystem's variables:

* ``OLLAMA_HOST``: the Ollama server (default ``http://127.0.0.1:11434``)
* ``HF_TOKEN``, ``HF_HOME``, ``HF_HUB_CACHE``, ``HF_ENDPOINT``, ``HF_HUB_OFFLINE``: the Hub
* ``FORGE_HOME``: forge's own state (the store); default: the user data dir
* ``FORGE_MODELS_DIR``: where pulled models are made available; default ``./models``
* ``FORGE_FAMILIES``: a folder of user family templates that add to / override the built-in ones
* ``FORGE_HUB_TIMEOUT`` (seconds, default 30) and ``FORGE_HUB_MIN_RATE`` (bytes/s, default 1024;
  0 turns it off): a Hub request that does not answer, or a body slower than that, is stalled
  and resumed (read in :mod:`ollama_forge.hub._http`)
* ``FORGE_LLAMA_EXTRA_BUFTS=0|1``: skip the embedded runtime's probe and force llama.cpp's
  extra buffer types off/on (:mod:`ollama_forge.runners.llama_probe`)
* ``FORGE_DEBUG=1``: show tracebacks
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    from urllib.parse import SplitResult

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
    """The Ollama base URL from ``OLLAMA_HOST``, normalised the way the ollama client does it."""
    raw = os.environ.get("OLLAMA_HOST", "").strip()
    return normalize_ollama_host(raw, source="OLLAMA_HOST") if raw else DEFAULT_OLLAMA_HOST


def normalize_ollama_host(raw: str, *, source: str = "--host") -> str:
    """``host``, ``host:port``, ``:port`` or a URL -> ``scheme://host:port`` (like ollama-python).

    A value that is not a usable URL is a :class:`ConfigError` (exit 2) naming ``source``, the
    variable or option it came from, never a ``ValueError`` deep inside an HTTP client.
    """
    value = raw.strip()
    if not value:
        return DEFAULT_OLLAMA_HOST
    scheme = "http"
    if "://" in value:
        scheme, _, value = value.partition("://")
        if scheme not in ("http", "https"):
            raise ConfigError(
                f"Unsupported scheme {scheme!r} in {source}={raw!r}",
                hint=f"Use http://host:port or https://host:port in {source}.",
                variable=source,
            )
    split = _split_url(f"{scheme}://{value}", raw, source, example="127.0.0.1:11434")
    host = split.hostname or "127.0.0.1"
    if host == "0.0.0.0":
        host = "127.0.0.1"
    try:
        port = split.port
    except ValueError as exc:
        raise ConfigError(
            f"Invalid port in {source}={raw!r}",
            hint=f"Example: {source}=127.0.0.1:11434",
            variable=source,
        ) from exc
    if port is None:
        port = 443 if scheme == "https" and "://" in raw else 11434
    if ":" in host:
        host = f"[{host}]"
    path = split.path.rstrip("/")
    return f"{scheme}://{host}:{port}{path}"


def _split_url(url: str, raw: str, source: str, *, example: str) -> SplitResult:
    """``urlsplit`` that refuses what no HTTP client could connect to, naming ``source``."""
    from urllib.parse import urlsplit

    problem = None
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw):
        problem = "it contains whitespace or control characters"
    else:
        try:
            split = urlsplit(url)
        except ValueError as exc:  # e.g. "Invalid IPv6 URL" for http://[::1
            problem = str(exc)
        else:
            if split.query or split.fragment or split.username or split.password:
                problem = "it has a query, fragment or credentials"
            elif split.netloc and not split.hostname and not split.netloc.startswith(":"):
                problem = "it has no host name"
            else:
                try:
                    split.port  # noqa: B018 - raises for a port that is not 0-65535
                except ValueError as exc:
                    problem = str(exc)
                else:
                    return split
    form = "a URL" if source == "HF_ENDPOINT" else "host:port or a URL"
    raise ConfigError(
        f"{source}={raw!r} is not a valid server address: {problem}",
        hint=f"Set {source} to {form}, e.g. {source}={example}.",
        variable=source,
    )


def hf_endpoint() -> str:
    """The Hub URL from ``HF_ENDPOINT`` (validated: a malformed value is a usage error naming it)."""
    raw = os.environ.get("HF_ENDPOINT", "").strip()
    if not raw:
        return DEFAULT_HF_ENDPOINT
    split = _split_url(raw, raw, "HF_ENDPOINT", example=DEFAULT_HF_ENDPOINT)
    if split.scheme not in ("http", "https") or not split.hostname:
        raise ConfigError(
            f"HF_ENDPOINT={raw!r} is not a valid server address: it needs http:// or https:// and a host",
            hint=f"Set HF_ENDPOINT to a URL such as {DEFAULT_HF_ENDPOINT}, or unset it.",
            variable="HF_ENDPOINT",
        )
    return raw.rstrip("/")


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
