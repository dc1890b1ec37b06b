"""A local Ollama server for tests that answers as a recorded real one does (127.0.0.1, no network).

Every exchange recorded from a real Ollama 0.32.15 server (tests/data/ollama_real/) is replayed
against it by tests/ollama/test_ollama_replay.py: status, headers that matter (content type,
chunked vs length, ``Allow``, CORS), exact error texts and the JSON shape. Highlights:

* gin routing: ``404 page not found`` / ``405 method not allowed`` (``text/plain``, ``Allow``),
  301 for a trailing slash, CORS preflight only with an ``Origin``;
* Go's JSON: compact, struct field order, ``\\u003c`` escapes, decoder error texts;
* blobs: HEAD without Content-Length, case-sensitive paths, a POST of a present blob answered
  before its body is read, mismatched bytes stored under their real digest;
* create (tests/servers/ollama_create.py), generate/chat and runners (ollama_infer.py).

Older versions (``OllamaServer(version="0.29.0")``) keep what forge branches on: no GGUF
rewrite, split shards as separate layers, no native Jinja. Every request is recorded in
``server.state.requests``; faults are set on ``server.state.faults``.
"""

from __future__ import annotations

import hashlib
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .ollama_create import create, early_error
from .ollama_gojson import GoDecodeError, GoMap, decode, dumps, go_v
from .ollama_infer import plan
from .ollama_state import (
    DIGEST_RE,
    CreateFailed,
    Faults,
    ModelRecord,
    OllamaState,
    RecordedRequest,
    display_as_typed,
    display_cased,
    parse_name,
    valid_path,
)

__all__ = ["Faults", "ModelRecord", "OllamaServer", "OllamaState", "RecordedRequest"]

ROUTES = {
    "/": "HEAD, GET",
    "/api/version": "HEAD, GET",
    "/api/tags": "HEAD, GET",
    "/api/ps": "GET",
    "/api/show": "POST",
    "/api/create": "POST",
    "/api/chat": "POST",
    "/api/generate": "POST",
    "/api/copy": "POST",
    "/api/delete": "DELETE",
    "/api/pull": "POST",
    "/api/push": "POST",
    "/api/embed": "POST",
    "/api/embeddings": "POST",
}
CORS = [
    (
        "Access-Control-Allow-Headers",
        "Authorization,Content-Type,User-Agent,Accept,X-Requested-With,Openai-Beta,"
        "X-Stainless-Arch,X-Stainless-Async,X-Stainless-Custom-Poll-Interval,X-Stainless-Helper-Method,"
        "X-Stainless-Lang,X-Stainless-Os,X-Stainless-Package-Version,X-Stainless-Poll-Helper,"
        "X-Stainless-Retry-Count,X-Stainless-Runtime,X-Stainless-Runtime-Version,X-Stainless-Timeout",
    ),
    ("Access-Control-Allow-Methods", "GET,POST,PUT,PATCH,DELETE,HEAD,OPTIONS"),
    ("Access-Control-Max-Age", "43200"),
]
STRUCTS = {
    "/api/generate": "GenerateRequest",
    "/api/chat": "ChatRequest",
    "/api/show": "ShowRequest",
    "/api/create": "CreateRequest",
    "/api/delete": "DeleteRequest",
    "/api/copy": "CopyRequest",
}
JSON_CT = "application/json; charset=utf-8"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    #: the request being answered (its times are set when the answer is sent)
    _current: RecordedRequest | None = None

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def send_response(self, code: int, message: str | None = None) -> None:
        """Status line and Date only (Go sends no Server header)."""
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    @property
    def state(self) -> OllamaState:
        return self.server.state

    # --- plumbing -------------------------------------------------------------------
    def _record(self, body: bytes | None, received: int) -> RecordedRequest:
        import json

        parsed = None
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        rec = RecordedRequest(
            self.command,
            self.path,
            {k.lower(): v for k, v in self.headers.items()},
            parsed,
            received,
        )
        with self.state.lock:
            self.state.requests.append(rec)
        self._current = rec
        return rec

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return b"".join(self._iter_chunked())
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _iter_chunked(self) -> Iterator[bytes]:
        while True:
            line = self.rfile.readline()
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return
            yield self.rfile.read(size)
            self.rfile.readline()

    def _send(
        self,
        status: int,
        body: bytes,
        rec: RecordedRequest | None,
        *,
        content_type: str | None,
        headers: list[tuple[str, str]] | None = None,
        length: bool = True,
    ) -> None:
        self.send_response(status)
        for name, value in headers or []:
            self.send_header(name, value)
        if content_type:
            self.send_header("Content-Type", content_type)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        if rec:
            rec.status = status

    def _send_json(
        self,
        status: int,
        data: Any,
        rec: RecordedRequest | None = None,
        *,
        content_type: str = JSON_CT,
    ) -> None:
        """gin's c.JSON: compact Go JSON, no trailing newline; net/http sends a body larger than
        its 2048-byte buffer chunked, without Content-Length."""
        body = dumps(data).encode()
        if len(body) <= 2048 or self.command == "HEAD":
            return self._send(status, body, rec, content_type=content_type)
        self._start_stream(rec or self._record(None, 0), status, content_type)
        self.wfile.write(f"{len(body):x}\r\n".encode() + body + b"\r\n")
        self._end_stream()

    def _send_empty(
        self, status: int, rec: RecordedRequest | None = None, *, close: bool = False
    ) -> None:
        self._send(
            status,
            b"",
            rec,
            content_type=None,
            headers=[("Connection", "close")] if close else None,
        )
        if close:
            self.close_connection = True

    def _start_stream(
        self, rec: RecordedRequest, status: int = 200, content_type: str = "application/x-ndjson"
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        rec.status = status

    def _chunk(self, data: Any, newline: bool = True) -> None:
        line = (dumps(data) + ("\n" if newline else "")).encode()
        self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # --- dispatch -------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        started = time.time()
        self._current = None
        try:
            self._route()
        finally:
            if self._current is not None:
                self._current.started, self._current.finished = started, time.time()

    def _route(self) -> None:
        if self.state.faults.delay:
            time.sleep(self.state.faults.delay)
        path = self.path.split("?", 1)[0]
        allowed: str | None = (
            "HEAD, POST" if path.startswith("/api/blobs/") and len(path) > 11 else ROUTES.get(path)
        )
        if allowed is None:
            body = self._read_body() if self.command in ("POST", "PUT", "DELETE") else b""
            rec = self._record(body, len(body))
            if (
                path.endswith("/")
                and path.rstrip("/") in ROUTES
                and self.command in ("GET", "HEAD")
            ):
                target = path.rstrip("/")
                text = f'<a href="{target}">Moved Permanently</a>.\n\n'.encode()
                return self._send(
                    301,
                    text,
                    rec,
                    content_type="text/html; charset=utf-8",
                    headers=[("Location", target)],
                )
            return self._send(404, b"404 page not found", rec, content_type="text/plain")
        if self.command == "OPTIONS" and self.headers.get("Origin"):
            rec = self._record(None, 0)
            origin = self.headers["Origin"]
            return self._send(
                204,
                b"",
                rec,
                content_type=None,
                length=False,
                headers=[
                    CORS[0],
                    CORS[1],
                    ("Access-Control-Allow-Origin", origin),
                    CORS[2],
                    ("Allow", allowed),
                    (
                        "Vary",
                        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
                    ),
                ],
            )
        if self.command not in allowed.split(", "):
            body = self._read_body() if self.command in ("POST", "PUT", "DELETE") else b""
            rec = self._record(body, len(body))
            return self._send(
                405,
                b"405 method not allowed",
                rec,
                content_type="text/plain",
                headers=[("Allow", allowed)],
            )
        if path.startswith("/api/blobs/"):
            return self._blob(path[len("/api/blobs/") :])
        raw = self.state.faults.raw_answers.get(path)
        body = self._read_body() if self.command in ("POST", "DELETE") else b""
        rec = self._record(body, len(body))
        if raw is not None:
            return self._send(200, raw, rec, content_type=JSON_CT)
        handler = {
            "/": self._root,
            "/api/version": self._version,
            "/api/tags": self._tags,
            "/api/ps": self._ps,
            "/api/show": self._show,
            "/api/delete": self._delete,
            "/api/copy": self._copy,
            "/api/create": self._create,
            "/api/chat": self._infer,
            "/api/generate": self._infer,
        }.get(path)
        if handler is None:
            return self._send(404, b"404 page not found", rec, content_type="text/plain")
        data: Any = None
        if path in STRUCTS:
            try:
                data = decode(body, STRUCTS[path])
            except GoDecodeError as exc:
                return self._send_json(400, {"error": str(exc)}, rec)
        handler(rec, data)

    def _root(self, rec: RecordedRequest, data: Any) -> None:
        self._send(200, b"Ollama is running", rec, content_type="text/plain; charset=utf-8")

    def _version(self, rec: RecordedRequest, data: Any) -> None:
        self._send_json(200, {"version": self.state.version}, rec)

    # --- blobs ----------------------------------------------------------------------
    def _blob(self, digest: str) -> None:
        if not DIGEST_RE.match(digest):
            body = self._read_body() if self.command == "POST" else b""
            return self._send_json(
                400, {"error": "invalid digest format"}, self._record(None, len(body))
            )
        target = self.state.blob_path(digest)
        rec = self._record(None, 0)
        if self.command == "HEAD":
            if target.exists():
                return self._send(200, b"", rec, content_type=None, length=False)
            return self._send_json(404, {"error": f'blob "{digest}" not found'}, rec)
        if target.exists():
            # answered before the body is read (recorded); Go's server drains up to 256 KiB of an
            # unread body to keep the connection, and closes it for a larger one
            length = int(self.headers.get("Content-Length") or 0)
            chunked = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
            if chunked or length > 256 * 1024:
                return self._send_empty(200, rec, close=True)
            self.rfile.read(length)
            return self._send_empty(200, rec)
        sha = hashlib.sha256()
        limit = self.state.faults.drop_upload_after
        tmp = tempfile.NamedTemporaryFile(dir=self.state.blobs, delete=False, prefix=".partial-")  # noqa: SIM115
        chunks = (
            self._iter_chunked()
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked"
            else self._iter_length()
        )
        try:
            with tmp:
                for block in chunks:
                    rec.bytes_received += len(block)
                    if limit is not None and rec.bytes_received >= limit:
                        self._drop()
                        return
                    sha.update(block)
                    tmp.write(block)
            got = f"sha256:{sha.hexdigest()}"
            real = self.state.blob_path(got)
            if not real.exists():
                Path(tmp.name).replace(real)  # stored under its real digest even on a mismatch
            if got != digest:
                return self._send_json(
                    400, {"error": f'digest mismatch, expected "{digest}", got "{got}"'}, rec
                )
            self._send_empty(201, rec)
        finally:
            Path(tmp.name).unlink(missing_ok=True)

    def _iter_length(self) -> Iterator[bytes]:
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining > 0:
            block = self.rfile.read(min(remaining, 1 << 20))
            if not block:
                return
            remaining -= len(block)
            yield block

    def _drop(self) -> None:
        """Server gone mid-upload: close the socket without an answer."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.connection.close()

    # --- create ---------------------------------------------------------------------
    def _create(self, rec: RecordedRequest, req: dict[str, Any]) -> None:
        faults = self.state.faults
        if faults.create_http_error:
            status, text = faults.create_http_error
            return self._send_json(status, {"error": text}, rec)
        key = parse_name(req.get("model") or req.get("name") or "")
        if key is None:
            return self._send_json(400, {"error": "invalid model name"}, rec)
        for mapping in (
            req.get("files") or {},
            req.get("adapters") or {},
            req.get("draft_files") or {},
        ):
            for fname, digest in mapping.items():
                if not valid_path(fname):
                    return self._send_json(400, {"error": "file path must be relative"}, rec)
                if digest == "":
                    return self._send_json(400, {"error": "invalid digest format"}, rec)
        if len(req.get("adapters") or {}) > 1:
            return self._send_json(400, {"error": "only one adapter is currently supported"}, rec)
        stream = req.get("stream", True) is not False
        problem = early_error(req)
        if problem is not None:
            if stream:
                self._start_stream(rec, 400, "application/json")
                self._chunk({"error": problem}, newline=False)
                return self._end_stream()
            return self._send_json(400, {"error": problem}, rec, content_type="application/json")
        lines: list[dict[str, Any]] = []
        error: CreateFailed | None = None
        try:
            create(self.state, key, req, lines)
        except CreateFailed as exc:
            error = exc
        if not stream:
            if error is not None:
                return self._send_json(
                    error.status, {"error": str(error)}, rec, content_type="application/json"
                )
            return self._send_json(200, {"status": "success"}, rec, content_type="application/json")
        self._start_stream(rec)
        for i, line in enumerate(lines):
            if faults.create_error_after is not None and i >= faults.create_error_after:
                # the model is not committed; dropped before the client can read the error (no race)
                with self.state.lock:
                    self.state.models.pop(key, None)
                self._chunk({"error": faults.create_error})
                self._end_stream()
                return
            self._chunk(line)
        if error is not None:
            self._chunk({"error": str(error)})
        self._end_stream()

    # --- model queries --------------------------------------------------------------
    def _tags(self, rec: RecordedRequest, data: Any) -> None:
        models = sorted(
            self.state.models.values(), key=lambda m: int(m.modified_at.timestamp()), reverse=True
        )
        out = []
        for m in models:
            details = dict(m.details)
            if m.context_length is not None:
                details["context_length"] = m.context_length
            if m.embedding_length is not None:
                details["embedding_length"] = m.embedding_length
            entry: dict[str, Any] = {
                "name": m.display,
                "model": m.display,
                "modified_at": _go_time(m.modified_at),
                "size": m.size,
                "digest": m.digest,
                "details": details,
            }
            if m.capabilities:
                entry["capabilities"] = m.capabilities
            out.append(entry)
        self._send_json(200, {"models": out}, rec)

    def _ps(self, rec: RecordedRequest, data: Any) -> None:
        entries = sorted(
            self.state.running, key=lambda e: int(e["expires_at"].timestamp()), reverse=True
        )
        self._send_json(
            200,
            {
                "models": [
                    {
                        "name": e["name"],
                        "model": e["name"],
                        "size": e["size"],
                        "digest": e["digest"],
                        "details": e.get("details")
                        or {
                            "parent_model": "",
                            "format": "gguf",
                            "family": "llama",
                            "families": ["llama"],
                            "parameter_size": "",
                            "quantization_level": "",
                        },
                        "expires_at": _go_time(e["expires_at"]),
                        "size_vram": e["size_vram"],
                        "context_length": e["context_length"],
                    }
                    for e in entries
                ]
            },
            rec,
        )

    def _show(self, rec: RecordedRequest, data: dict[str, Any]) -> None:
        name = data.get("model") or data.get("name")
        if not name:
            return self._send_json(400, {"error": "model is required"}, rec)
        if parse_name(name) is None:
            return self._send_json(400, {"error": "invalid model name"}, rec)
        m = self.state.model(name)
        if m is None or not m.runnable:
            return self._send_json(
                404, {"error": f"model '{display_as_typed(name)}' not found"}, rec
            )
        self._send_json(200, _show_body(self.state, m, data), rec)

    def _delete(self, rec: RecordedRequest, data: dict[str, Any]) -> None:
        name = data.get("model") or data.get("name") or ""
        if not name:
            return self._send_json(400, {"error": "model is required"}, rec)
        key = parse_name(name)
        if key is None:
            return self._send_json(400, {"error": f'name "{name}" is invalid'}, rec)
        with self.state.lock:
            model = self.state.models.get(key)
            if model is None:
                return self._send_json(404, {"error": f"model '{name}' not found"}, rec)
            if model.runnable:  # a projector-only manifest survives its delete (recorded)
                del self.state.models[key]
        self._send_empty(
            200, rec
        )  # a loaded model stays loaded (recorded): ollama rm unloads first

    def _copy(self, rec: RecordedRequest, data: dict[str, Any]) -> None:
        src, dst = data.get("source", ""), data.get("destination", "")
        if parse_name(src) is None:
            return self._send_json(400, {"error": f'source "{src}" is invalid'}, rec)
        key = parse_name(dst)
        if key is None:
            return self._send_json(400, {"error": f'destination "{dst}" is invalid'}, rec)
        m = self.state.model(src)
        if m is None:
            return self._send_json(404, {"error": f'model "{src}" not found'}, rec)
        from datetime import datetime, timezone

        with self.state.lock:
            self.state.models[key] = ModelRecord(
                **{
                    **m.__dict__,
                    "name": key,
                    "display": display_cased(dst),
                    "modified_at": datetime.now(timezone.utc),
                }
            )
        self._send_empty(200, rec)

    # --- inference ------------------------------------------------------------------
    def _infer(self, rec: RecordedRequest, req: dict[str, Any]) -> None:
        kind = "chat" if self.path.startswith("/api/chat") else "generate"
        answer = plan(self.state, kind, req)
        if isinstance(answer, tuple):
            return self._send_json(answer[0], answer[1], rec)
        self._start_stream(rec)
        try:
            for part in answer:
                self._chunk(part)
            self._end_stream()
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading (a deadline)
            self.close_connection = True


def _go_time(moment: Any) -> str:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{moment.microsecond:06d}".rstrip("0")
    return f"{text}.{frac}Z" if frac else f"{text}Z"


def _command_value(value: str) -> str:
    """parser.Command.String quoting: quoted only with a newline or edge spaces."""
    if "\n" in value or value != value.strip():
        return f'"""{value}"""' if '"' in value else f'"{value}"'
    return value


def _show_body(state: OllamaState, m: ModelRecord, req: dict[str, Any]) -> dict[str, Any]:
    verbose = bool(req.get("verbose"))
    system = str(req.get("system") or m.system)
    params = {**m.parameters}
    mf = [
        '# Modelfile generated by "ollama show"',
        "# To build a new Modelfile based on this, replace FROM with:",
        f"# FROM {m.display}",
        "",
    ]
    # the model path is the last model layer (two model GGUFs show one FROM), then projectors
    mf += [
        f"FROM {state.blob_path(layer['digest'])}"
        for layer in m.kind("model")[-1:] + m.kind("projector")
    ]
    mf += [f"ADAPTER {state.blob_path(layer['digest'])}" for layer in m.kind("adapter")]
    mf.append(f"TEMPLATE {_command_value(m.template or '{{ .Prompt }}')}")
    if system:
        mf.append(f"SYSTEM {_command_value(system)}")
    if m.renderer:
        mf.append(f"RENDERER {m.renderer}")
    if m.parser:
        mf.append(f"PARSER {m.parser}")
    for k, v in {**params, **(req.get("options") or {})}.items():
        for item in v if isinstance(v, list) else [v]:
            mf.append(
                f"PARAMETER {k} {_command_value(str(item) if not isinstance(item, float) else go_v(item))}"
            )
    mf += [f"LICENSE {_command_value(text)}" for text in m.license]
    mf += [
        f"MESSAGE {msg.get('role')} {_command_value(str(msg.get('content', '')))}"
        for msg in m.messages
    ]
    out: dict[str, Any] = {}
    if m.license:
        out["license"] = "\n".join(m.license)
    out["modelfile"] = "\n".join(mf) + "\n"
    lines = [
        f"{k:<30} {go_v(item)}"
        for k, v in params.items()
        for item in (v if isinstance(v, list) else [v])
    ]
    if lines:
        out["parameters"] = "\n".join(lines)
    out["template"] = m.template or "{{ .Prompt }}"
    if system:
        out["system"] = system  # a system in the show request replaces the model's (recorded)
    out["details"] = m.details
    if m.messages:
        out["messages"] = m.messages
    out["model_info"] = GoMap(
        {k: (v if verbose or not isinstance(v, list) else None) for k, v in m.model_info.items()}
    )
    if m.projector_info is not None:
        out["projector_info"] = GoMap(m.projector_info)
    out["tensors"] = m.tensors
    out["capabilities"] = m.capabilities
    out["modified_at"] = _go_time(m.modified_at)
    if m.requires:  # renderer/parser only appear in the modelfile (recorded)
        out["requires"] = m.requires
    return out


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: OllamaState


class OllamaServer:
    """``with OllamaServer(version="0.33.0") as srv: srv.url, srv.state``."""

    def __init__(self, root: str | Path | None = None, *, version: str = "0.33.0") -> None:
        self._tmp = None if root is not None else tempfile.TemporaryDirectory(prefix="ollama-test-")
        base = Path(root) if root is not None else Path(self._tmp.name)  # type: ignore[union-attr]
        self.state = OllamaState(base, version)
        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._httpd.state = self.state
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> OllamaServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> OllamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
