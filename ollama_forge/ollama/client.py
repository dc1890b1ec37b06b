"""The one place where forge talks to Ollama's transport and converts its errors.

Everything that reaches an Ollama server goes through :class:`OllamaHTTP` (forge's own calls:
blob HEAD/upload without re-hashing, ``/api/create`` with every field, version, ps, tags, show,
delete, chat for ``forge check``; over the standard library, see :mod:`.transport`) or
:func:`make_client` (the official ``ollama`` client, for callers that want it). Every answer is
read with a size limit and checked before use (:mod:`.answers`). Transport failures become
:class:`~ollama_forge.errors.OllamaConnectionError` and server answers
:class:`~ollama_forge.errors.OllamaResponseError` in :func:`convert_exception`, nowhere else.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .._version import __version__
from ..config import normalize_ollama_host, ollama_host
from ..digests import CHUNK, DISK_READS, validate_ollama_digest
from ..errors import (
    ForgeError,
    OllamaConnectionError,
    OllamaError,
    OllamaModelNotFoundError,
    OllamaResponseError,
)
from ..text import safe_text
from .transport import ConnectFailed, Transport

if TYPE_CHECKING:
    import httpx
    import ollama

    from .transport import Response

#: seconds for quick calls (list, ps, show, version, HEAD)
DEFAULT_TIMEOUT = 30.0
#: seconds without a byte during a blob upload
LONG_TIMEOUT = 900.0
#: seconds without a status line during /api/create (a large GGUF's conversion check is the
#: longest silent step; a server stalled longer than this is reported, not waited on)
CREATE_STALL_TIMEOUT = 300.0
#: the largest JSON answer forge reads (a verbose /api/show of a 256k vocabulary is ~10 MB)
MAX_JSON_BYTES = 32 * 1024 * 1024
#: the largest /api/ps, /api/tags or /api/version answer (a thousand models take ~1 MB)
MAX_LIST_BYTES = 8 * 1024 * 1024
#: the most of an error body forge reads and shows
MAX_ERROR_BYTES = 64 * 1024
_VERSION_TEXT = re.compile(r"^v?\d{1,4}\.\d{1,4}\.\d{1,6}[0-9A-Za-z.+_-]{0,48}$")


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


def convert_exception(
    exc: BaseException, host: str, *, action: str | None = None
) -> ForgeError | None:
    """The forge error for a transport/server exception, or None when it is not one.

    forge's own transport raises standard exceptions; the ollama and httpx packages (used by
    ChatOllama and :func:`make_client`) are only looked at when already imported.
    """
    import http.client
    import sys

    doing = f" while {action}" if action else ""
    ollama = sys.modules.get("ollama")
    httpx = sys.modules.get("httpx")
    if ollama is not None and isinstance(exc, ollama.ResponseError):
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
    if httpx is not None and isinstance(exc, httpx.HTTPStatusError):
        return status_error(
            host, exc.response.status_code, _response_text(exc.response), action=action
        )
    unreachable = OllamaConnectionError(
        f"Cannot reach Ollama at {host} (OLLAMA_HOST){doing}: is it running?",
        hint=start_hint(host),
        host=host,
    )
    timed_out = OllamaConnectionError(
        f"Ollama at {host} (OLLAMA_HOST) did not answer in time{doing} ({type(exc).__name__})",
        hint="Check that the server is healthy and not overloaded, or raise the timeout. "
        + start_hint(host),
        host=host,
    )
    lost = OllamaConnectionError(
        f"The connection to Ollama at {host} (OLLAMA_HOST) was lost{doing}: {exc or type(exc).__name__}",
        hint="The server stopped or dropped the request; nothing was registered. Check the Ollama "
        "server log, then retry. " + start_hint(host),
        host=host,
    )
    if isinstance(exc, ConnectFailed):
        return timed_out if isinstance(exc.__cause__, TimeoutError) else unreachable
    if isinstance(exc, TimeoutError):
        return timed_out
    if isinstance(exc, (BrokenPipeError, ConnectionResetError, http.client.HTTPException)):
        return lost
    if httpx is not None:
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            return unreachable
        if isinstance(exc, httpx.TimeoutException):
            return timed_out
        if isinstance(exc, httpx.TransportError):
            return lost
    if isinstance(exc, ConnectionError):
        return unreachable
    return None


def malformed(host: str, what: str, detail: str) -> OllamaResponseError:
    """The error for an answer that is not what an Ollama server sends (a proxy, another service)."""

    return OllamaResponseError(
        f"Ollama at {host} sent a malformed answer to {what}: {safe_text(detail, keep_newlines=False, limit=200)}",
        hint="Check that OLLAMA_HOST / --host points at an Ollama server (not a proxy or another service) "
        "and that it is a released version; `curl "
        + host
        + "/api/version` shows what answers there.",
        host=host,
        endpoint=what,
    )


def status_error(
    host: str, status: int, body: str, *, action: str | None = None
) -> OllamaResponseError:
    """The error for an HTTP error answer (``{"error": ...}`` or gin's text/plain pages)."""

    text = safe_text(_error_text(body), keep_newlines=False, limit=2000)
    doing = f" while {action}" if action else ""
    missing = re.fullmatch(
        r"model ['\"]?(.{1,300}?)['\"]? not found.*", text, re.IGNORECASE | re.DOTALL
    )
    if status == 404 and missing:  # one wording for every missing name (docs/cli.md)
        return OllamaModelNotFoundError.of(
            missing.group(1),
            f"a model in Ollama at {host}{doing}",
            hint=_hint_for(text, status),
            status=status,
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


#: server errors caused by the bytes the client uploaded (as opposed to server-side GGUF failures)
_CLIENT_FILE_ERRORS = (
    "supplied file was not in gguf format",
    "invalid file magic",
    "not a gguf",
    "unknown type",
    "exceeds file size",
)


def _hint_for(text: str, status: int) -> str | None:
    low = text.lower()
    if "not found" in low and ("model" in low or status == 404):
        return "List the models Ollama has with `forge list` (or `ollama list`)."
    if "digest mismatch" in low:
        return "The file changed while it was uploaded; re-run the command (forge re-hashes it)."
    if any(marker in low for marker in _CLIENT_FILE_ERRORS):
        # the uploaded bytes are not a GGUF: a Git-LFS pointer or a partial download is the usual cause
        return "Check the file with `forge inspect <file>`; it must be a complete GGUF (not a Git-LFS pointer)."
    if "split gguf" in low:
        return "Give every shard of the split GGUF with its llama.cpp name (<name>-0000N-of-0000M.gguf)."
    if "does not support" in low:
        return "`forge show NAME` lists the model's capabilities; drop the feature or register a template that has it."
    if "must be of type" in low:
        return "A PARAMETER or option has the wrong type; `forge show NAME` shows the model's stored parameters."
    if "invalid model name" in low:
        return "Use [namespace/]model[:tag] with letters, digits, '_', '.', '-' (see `forge register --help`)."
    if "illegal instruction" in low:
        return (
            "Ollama's model runner crashed on a CPU instruction this machine cannot execute (a VM may "
            "advertise AMX/AVX-512 it does not run); the server log's `inference compute` and llama-server "
            "lines name the CPU build it chose. Run Ollama on another machine or a build for this CPU."
        )
    if status >= 500:
        return "The Ollama server failed; its log (journalctl -u ollama, or ~/.ollama/logs/server.log) has details."
    return None


def make_client(host: str | None = None, timeout: float | None = DEFAULT_TIMEOUT) -> ollama.Client:
    """The official ollama client for ``host`` (default: OLLAMA_HOST) with a finite timeout."""
    import ollama

    return ollama.Client(host=resolve_host(host), timeout=timeout)


def _headers() -> dict[str, str]:
    import os

    headers = {"User-Agent": f"ollama-forge/{__version__}", "Accept": "application/json"}
    key = os.environ.get("OLLAMA_API_KEY")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


class OllamaHTTP:
    """Raw HTTP calls to one Ollama server, every failure converted to a forge error.

    Built on :mod:`.transport` (the standard library): no httpx import, no SSL setup for
    ``http://`` servers; ``timeout`` bounds each read, ``long_timeout`` a blob upload's answer.
    """

    def __init__(
        self,
        host: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        long_timeout: float = LONG_TIMEOUT,
    ) -> None:

        self.host = resolve_host(host)
        self.timeout = timeout
        self.long_timeout = long_timeout
        self._transport = Transport(self.host, _headers())

    def close(self) -> None:
        """Nothing to release: each request has its own connection."""

    def __enter__(self) -> OllamaHTTP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        return f"{self.host}{path}"

    def _open(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Response:
        body = content
        extra = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            extra["Content-Type"] = "application/json"
        return self._transport.request(
            method,
            path,
            body=body,
            headers=extra,
            timeout=timeout or self.timeout,
            connect_timeout=min(self.timeout, 30.0),
        )

    # --- simple calls ------------------------------------------------------------------
    def version(self) -> str:
        """``GET /api/version``: the version text, refused unless it looks like one (it is printed)."""
        data = self.request_json("GET", "/api/version", action="reading /api/version")
        version = data.get("version") if isinstance(data, dict) else None
        if not isinstance(version, str) or not _VERSION_TEXT.match(version):
            raise malformed(self.host, "/api/version", repr(data)[:200])
        return version

    def get_json(self, path: str, *, action: str | None = None) -> Any:
        """A GET of a listing (ps, tags, version): its answer is bounded by MAX_LIST_BYTES."""
        return self.request_json("GET", path, action=action, max_bytes=MAX_LIST_BYTES)

    def post_json(self, path: str, body: dict[str, Any], *, action: str | None = None) -> Any:
        """A non-streaming JSON POST; the decoded answer (None for an empty body)."""
        return self.request_json("POST", path, body, action=action)

    def request_json(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        action: str | None = None,
        max_bytes: int | None = None,
    ) -> Any:
        """One JSON exchange, the answer read up to ``max_bytes`` and decoded (None when empty).

        An error status becomes :func:`status_error`, an oversized or undecodable answer
        :func:`malformed`: a hostile or broken server never costs more than ``max_bytes``.
        """
        with (
            translate_errors(self.host, action=action),
            self._open(method, path, json_body=body) as response,
        ):
            if response.status >= 400:
                raise status_error(self.host, response.status, _error_body(response), action=action)
            max_bytes = MAX_JSON_BYTES if max_bytes is None else max_bytes
            raw = _read_capped(response, max_bytes)
            if raw is None:
                raise malformed(self.host, path, f"the answer is larger than {max_bytes} bytes")
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise malformed(self.host, path, f"not JSON ({exc})") from exc

    def generate_stream(
        self, path: str, body: dict[str, Any], *, deadline: float, action: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """``/api/chat`` or ``/api/generate`` streamed, ended by forge after ``deadline`` seconds.

        The per-read timeout never exceeds the deadline, so a stalled server and one that never
        stops both end within ``deadline`` (+ one read) with an :class:`OllamaError`.
        """

        end = time.monotonic() + deadline
        model = body.get("model")

        def past_deadline() -> OllamaError:
            return OllamaError(
                f"forge stopped the generation of {model!r} after its {deadline:g} s deadline"
                f"{f' while {action}' if action else ''}: the reply was not finished",
                hint="Lower num_predict (the reply length) or raise the deadline; a model that never "
                "stops usually lacks a stop string or a chat template (`forge check NAME`).",
                host=self.host,
                deadline=deadline,
                model=model,
            )

        try:
            yield from self._generate_lines(path, body, end, past_deadline, action)
        except OllamaConnectionError as exc:
            # the read timeout is <= the deadline: a timeout past the deadline is the deadline
            if isinstance(exc.__cause__, TimeoutError) and time.monotonic() >= end:
                raise past_deadline() from exc
            raise

    def _generate_lines(
        self,
        path: str,
        body: dict[str, Any],
        end: float,
        past_deadline: Callable[[], Exception],
        action: str | None,
    ) -> Iterator[dict[str, Any]]:
        with (
            translate_errors(self.host, action=action),
            self._open(
                "POST",
                path,
                json_body=body,
                timeout=min(self.timeout, max(0.001, end - time.monotonic())),
            ) as response,
        ):
            if response.status >= 400:
                raise status_error(self.host, response.status, _error_body(response), action=action)
            for part in _ndjson(response, self.host, path):
                if part.get("error"):
                    text = str(part["error"])
                    raise OllamaResponseError(
                        f"Ollama at {self.host} reported an error{f' while {action}' if action else ''}: {text}",
                        hint=_hint_for(text, -1),
                        status=-1,
                        host=self.host,
                        server_error=text,
                    )
                yield part
                if part.get("done") is True:
                    return
                if time.monotonic() > end:
                    raise past_deadline()
        raise malformed(self.host, path, "the stream ended without a final done line")

    def blob_exists(self, digest: str) -> bool:
        """``HEAD /api/blobs/<digest>``: True on 200, False on 404, an error otherwise."""
        validate_ollama_digest(digest)
        with (
            translate_errors(self.host, action="checking a blob"),
            self._open("HEAD", f"/api/blobs/{digest}") as response,
        ):
            if response.status == 404:
                return False
            if response.status >= 400:
                raise status_error(self.host, response.status, "", action="checking a blob")
        return True

    def upload_blob(
        self, digest: str, path: str | Path, *, progress: Callable[[int], None] | None = None
    ) -> int:
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
        action = f"uploading {Path(path).name}"
        with (
            translate_errors(self.host, action=action),
            self._open(
                "POST",
                f"/api/blobs/{digest}",
                content=body(),
                headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"},
                timeout=self.long_timeout,
            ) as response,
        ):
            if response.status >= 400:
                raise status_error(self.host, response.status, _error_body(response), action=action)
            _read_capped(response, MAX_ERROR_BYTES, truncate=True)
            return response.status

    def create(
        self, body: dict[str, Any], *, stall_timeout: float = CREATE_STALL_TIMEOUT
    ) -> Iterator[dict[str, Any]]:
        """``POST /api/create`` (streamed NDJSON); yields each status line, raises on any error line.

        Errors come three ways (recorded from a real 0.32 server): a status before the stream
        (400/500 ``{"error"}``), or an ``{"error"}`` line inside a 200 stream after ``parsing GGUF``.
        """
        with (
            translate_errors(self.host, action="creating the model"),
            self._open("POST", "/api/create", json_body=body, timeout=stall_timeout) as response,
        ):
            if response.status >= 400:
                raise status_error(
                    self.host, response.status, _error_body(response), action="creating the model"
                )
            for part in _ndjson(response, self.host, "/api/create"):
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


#: the longest NDJSON line forge accepts (status and token lines are < 1 KB)
MAX_LINE_BYTES = 1024 * 1024


def _read_capped(response: Response, limit: int, *, truncate: bool = False) -> bytes | None:
    """The body, at most ``limit`` bytes: None when longer (or the first ``limit`` bytes if ``truncate``)."""
    out = bytearray()
    for block in response.iter_bytes():
        out += block
        if len(out) > limit:
            return bytes(out[:limit]) if truncate else None
    return bytes(out)


def _error_body(response: Response) -> str:
    return (_read_capped(response, MAX_ERROR_BYTES, truncate=True) or b"").decode(
        "utf-8", "replace"
    )


def _ndjson(response: Response, host: str, path: str) -> Iterator[dict[str, Any]]:
    """The JSON objects of an NDJSON stream, each line bounded; anything else is malformed."""
    buffer = b""
    for block in response.iter_bytes():
        buffer += block
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield _ndjson_line(line, host, path)
        if len(buffer) > MAX_LINE_BYTES:
            raise malformed(host, path, f"a stream line longer than {MAX_LINE_BYTES} bytes")
    if buffer.strip():
        yield _ndjson_line(buffer, host, path)


def _ndjson_line(line: bytes, host: str, path: str) -> dict[str, Any]:
    try:
        part = json.loads(line)
    except ValueError as exc:
        raise malformed(host, path, f"an unreadable stream line {line[:200]!r}") from exc
    if not isinstance(part, dict):
        raise malformed(host, path, f"a stream line that is not an object: {line[:200]!r}")
    return part
