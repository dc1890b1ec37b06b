"""The one place where forge talks to Ollama's transport and converts its errors.

Everything that reaches an Ollama server goes through :func:`make_client` (the official
``ollama`` client, used for list/ps/show/delete/copy and by other forge modules) or
:class:`OllamaHTTP` (raw HTTP for the calls the client does not cover faithfully: blob
HEAD/upload without re-hashing, ``/api/create`` with every field, ``/api/version``).
Transport failures become :class:`~ollama_forge.errors.OllamaConnectionError` and server
answers become :class:`~ollama_forge.errors.OllamaResponseError` inside
:func:`translate_errors`, nowhere else.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..config import normalize_ollama_host, ollama_host
from ..digests import CHUNK, DISK_READS, validate_ollama_digest
from ..errors import ForgeError, OllamaConnectionError, OllamaResponseError

if TYPE_CHECKING:
    import httpx
    import ollama

#: seconds for quick calls (list, ps, show, version, HEAD)
DEFAULT_TIMEOUT = 30.0
#: seconds without a byte during a blob upload or a create stream
LONG_TIMEOUT = 900.0


def resolve_host(host: str | None = None) -> str:
    """``host`` (``--host`` / ``host=``) normalised, else ``OLLAMA_HOST``, else the default."""
    return normalize_ollama_host(host) if host else ollama_host()


def start_hint(host: str) -> str:
    return (
        f"Start Ollama with `ollama serve` (or open the Ollama app), or point OLLAMA_HOST / --host "
        f"at the right server (now {host})."
    )


class translate_errors(contextlib.ContextDecorator):
    """Turn ollama/httpx/socket exceptions into forge's Ollama errors.

    Use as ``with translate_errors(host):`` or as a decorator ``@translate_errors(host)``.
    ForgeErrors pass through unchanged.
    """

    def __init__(self, host: str | None = None, *, action: str | None = None) -> None:
        self.host = resolve_host(host) if host is None else host
        self.action = action

    def __enter__(self) -> translate_errors:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        if exc is None or isinstance(exc, (ForgeError, KeyboardInterrupt)):
            return False
        converted = convert_exception(exc, self.host, action=self.action)
        if converted is None:
            return False
        raise converted from exc


def convert_exception(exc: BaseException, host: str, *, action: str | None = None) -> ForgeError | None:
    """The forge error for a transport/server exception, or None when it is not one."""
    import httpx
    import ollama

    doing = f" while {action}" if action else ""
    if isinstance(exc, ollama.ResponseError):
        status = exc.status_code
        text = _error_text(exc.error)
        if status == -1:
            return OllamaResponseError(
                f"Ollama at {host} reported an error{doing}: {text}",
                hint=_hint_for(text, status),
                status=-1,
                host=host,
                server_error=text,
            )
        return OllamaResponseError(
            f"Ollama at {host} answered HTTP {status}{doing}: {text}",
            hint=_hint_for(text, status),
            status=status,
            host=host,
            server_error=text,
        )
    if isinstance(exc, httpx.HTTPStatusError):
        text = _error_text(_response_text(exc.response))
        status = exc.response.status_code
        return OllamaResponseError(
            f"Ollama at {host} answered HTTP {status}{doing}: {text}",
            hint=_hint_for(text, status),
            status=status,
            host=host,
            server_error=text,
        )
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)) or (
        isinstance(exc, ConnectionError) and not isinstance(exc, (BrokenPipeError, ConnectionResetError))
    ):
        return OllamaConnectionError(
            f"Cannot reach Ollama at {host} (OLLAMA_HOST){doing}: is it running?",
            hint=start_hint(host),
            host=host,
        )
    if isinstance(exc, httpx.TimeoutException):
        return OllamaConnectionError(
            f"Ollama at {host} (OLLAMA_HOST) did not answer in time{doing} ({type(exc).__name__})",
            hint="Check that the server is healthy and not overloaded, or raise the timeout. " + start_hint(host),
            host=host,
        )
    if isinstance(exc, (httpx.TransportError, BrokenPipeError, ConnectionResetError)):
        return OllamaConnectionError(
            f"The connection to Ollama at {host} (OLLAMA_HOST) was lost{doing}: {exc or type(exc).__name__}",
            hint="The server stopped or dropped the request; nothing was registered. Check the Ollama "
            "server log, then retry. " + start_hint(host),
            host=host,
        )
    return None


def _response_text(response: httpx.Response) -> str:
    try:
        return response.text
    except Exception:  # a streamed response that was not read
        try:
            response.read()
            return response.text
        except Exception:
            return f"HTTP {response.status_code}"


def _error_text(raw: object) -> str:
    """The server's ``{"error": ...}`` text (Ollama's JSON error body), else the raw text."""
    text = str(raw or "").strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return text
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            return str(data["error"])
    return text or "(empty response)"


def _hint_for(text: str, status: int) -> str | None:
    low = text.lower()
    if "not found" in low and ("model" in low or status == 404):
        return "List the models Ollama has with `forge list` (or `ollama list`)."
    if "digest mismatch" in low:
        return "The file changed while it was uploaded; re-run the command (forge re-hashes it)."
    if "gguf" in low or "file magic" in low:
        return "Check the file with `forge inspect <file>`; it must be a complete GGUF (not a Git-LFS pointer)."
    if "invalid model name" in low:
        return "Use [namespace/]model[:tag] with letters, digits, '_', '.', '-' (see `forge register --help`)."
    if status >= 500:
        return "The Ollama server failed; its log (journalctl -u ollama, or ~/.ollama/logs/server.log) has details."
    return None


def make_client(host: str | None = None, timeout: float | None = DEFAULT_TIMEOUT) -> ollama.Client:
    """The official ollama client for ``host`` (default: OLLAMA_HOST) with a finite timeout."""
    import ollama

    return ollama.Client(host=resolve_host(host), timeout=timeout)


def _headers() -> dict[str, str]:
    import os

    from .._version import __version__

    headers = {"User-Agent": f"ollama-forge/{__version__}", "Accept": "application/json"}
    key = os.environ.get("OLLAMA_API_KEY")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


class OllamaHTTP:
    """Raw HTTP calls to one Ollama server, every failure converted to a forge error."""

    def __init__(self, host: str | None = None, *, timeout: float = DEFAULT_TIMEOUT, long_timeout: float = LONG_TIMEOUT) -> None:
        import httpx

        self.host = resolve_host(host)
        self.timeout = timeout
        self._long = httpx.Timeout(long_timeout, connect=min(timeout, 30.0))
        self._http = httpx.Client(base_url=self.host, timeout=timeout, headers=_headers(), follow_redirects=True)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OllamaHTTP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        return f"{self.host}{path}"

    # --- simple calls ------------------------------------------------------------------
    def version(self) -> str:
        with translate_errors(self.host, action="reading /api/version"):
            response = self._http.get("/api/version")
            response.raise_for_status()
            data = response.json()
        version = data.get("version") if isinstance(data, dict) else None
        if not isinstance(version, str):
            raise OllamaResponseError(f"Ollama at {self.host} sent no version in /api/version", host=self.host)
        return version

    def post_json(self, path: str, body: dict[str, Any], *, action: str | None = None) -> Any:
        """A non-streaming JSON POST; the decoded answer (None for an empty body)."""
        with translate_errors(self.host, action=action):
            response = self._http.post(path, json=body)
            response.raise_for_status()
            return response.json() if response.content else None

    def blob_exists(self, digest: str) -> bool:
        """``HEAD /api/blobs/<digest>``: True on 200, False on 404, an error otherwise."""
        validate_ollama_digest(digest)
        with translate_errors(self.host, action="checking a blob"):
            response = self._http.head(f"/api/blobs/{digest}")
            if response.status_code == 404:
                return False
            response.raise_for_status()
        return True

    def upload_blob(self, digest: str, path: str | Path, *, progress: Callable[[int], None] | None = None) -> int:
        """``POST /api/blobs/<digest>`` streaming ``path``; returns the HTTP status (201 or 200).

        The file is read once, in large chunks, counted in :data:`DISK_READS`.
        """

        def body() -> Iterator[bytes]:
            with open(path, "rb") as handle:
                while True:
                    block = handle.read(CHUNK)
                    if not block:
                        break
                    DISK_READS.bytes_read += len(block)
                    if progress is not None:
                        progress(len(block))
                    yield block

        validate_ollama_digest(digest)
        size = Path(path).stat().st_size
        with translate_errors(self.host, action=f"uploading {Path(path).name}"):
            response = self._http.post(
                f"/api/blobs/{digest}",
                content=body(),
                headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"},
                timeout=self._long,
            )
            response.raise_for_status()
        return response.status_code

    def create(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """``POST /api/create`` (streamed NDJSON); yields each status line, raises on any error line."""
        with translate_errors(self.host, action="creating the model"), self._http.stream(
            "POST", "/api/create", json=body, timeout=self._long
        ) as response:
            if response.status_code >= 400:
                response.read()
                response.raise_for_status()
            for line in response.iter_lines():
                if not line.strip():
                    continue
                try:
                    part = json.loads(line)
                except ValueError as exc:
                    raise OllamaResponseError(
                        f"Ollama at {self.host} sent an unreadable create status line: {line[:200]!r}",
                        host=self.host,
                    ) from exc
                if not isinstance(part, dict):
                    continue
                if part.get("error"):
                    text = str(part["error"])
                    raise OllamaResponseError(
                        f"Ollama at {self.host} reported an error while creating the model: {text}",
                        hint=_hint_for(text, -1),
                        status=-1,
                        host=self.host,
                        server_error=text,
                    )
                yield part
