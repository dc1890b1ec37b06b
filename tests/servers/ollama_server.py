"""A local Ollama server for tests, following Ollama's real HTTP API (reference ollama.md §3-4).

Threaded, on 127.0.0.1, no network. It implements what forge and the official clients use:

* ``HEAD/POST /api/blobs/<digest>``: digest format check (400 ``invalid digest format``), 200 when
  present, 201 when stored, 400 ``digest mismatch, expected "<url>", got "<computed>"``;
* ``POST /api/create``: body validation (``neither 'from' or 'files' was specified``,
  ``file path must be relative: <key>``, ``invalid model name``, ``invalid digest format``),
  then streamed NDJSON with in-stream errors (unknown blob, GGUF magic, split GGUF rules by
  version); ``stream:false`` answers once with the status code;
* ``/api/tags``, ``/api/show``, ``/api/delete``, ``/api/copy``, ``/api/version``, ``/api/ps``;
* ``/api/chat`` and ``/api/generate`` with a deterministic canned reply (streamed or not),
  ``done_reason`` (``stop``/``length``/``load``/``unload``), durations in nanoseconds.

Every request is recorded (method, path, headers, JSON body, bytes received) in
``server.state.requests``. Faults are configurable on ``server.state.faults``.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .ollama_state import (
    DIGEST_RE,
    FILE_TYPES,
    SPLIT_RE,
    CreateFailed,
    Faults,
    ModelRecord,
    OllamaState,
    RecordedRequest,
    classify,
    display_name,
    gguf_meta,
    instance_for,
    jinja_caps,
    merge_shards,
    parse_name,
    valid_path,
    version_tuple,
)

__all__ = ["Faults", "ModelRecord", "OllamaServer", "OllamaState", "RecordedRequest"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    @property
    def state(self) -> OllamaState:
        return self.server.state

    # --- plumbing -------------------------------------------------------------------
    def _record(self, body: bytes | None, received: int) -> RecordedRequest:
        parsed = None
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        rec = RecordedRequest(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, parsed, received)
        with self.state.lock:
            self.state.requests.append(rec)
        return rec

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return b"".join(self._iter_chunked())
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _iter_chunked(self) -> Any:
        while True:
            line = self.rfile.readline()
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return
            yield self.rfile.read(size)
            self.rfile.readline()

    def _send_json(self, status: int, data: Any, rec: RecordedRequest | None = None) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        if rec:
            rec.status = status

    def _send_empty(self, status: int, rec: RecordedRequest | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if rec:
            rec.status = status

    def _start_stream(self, rec: RecordedRequest) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        rec.status = 200

    def _chunk(self, data: Any) -> None:
        line = (json.dumps(data) + "\n").encode()
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

    def _dispatch(self) -> None:
        if self.state.faults.delay:
            time.sleep(self.state.faults.delay)
        path = self.path.split("?", 1)[0]
        if path.startswith("/api/blobs/"):
            return self._blob(path[len("/api/blobs/"):])
        body = self._read_body() if self.command in ("POST", "DELETE") else b""
        rec = self._record(body, len(body))
        routes = {
            ("GET", "/"): self._root, ("HEAD", "/"): self._root,
            ("GET", "/api/version"): self._version, ("HEAD", "/api/version"): self._version,
            ("GET", "/api/tags"): self._tags, ("GET", "/api/ps"): self._ps,
            ("POST", "/api/show"): self._show, ("DELETE", "/api/delete"): self._delete,
            ("POST", "/api/copy"): self._copy, ("POST", "/api/create"): self._create,
            ("POST", "/api/chat"): self._chat, ("POST", "/api/generate"): self._generate,
        }
        handler = routes.get((self.command, path))
        if handler is None:
            return self._send_json(404, {"error": "404 page not found"}, rec)
        try:
            data = json.loads(body) if body else None
        except ValueError:
            return self._send_json(400, {"error": "invalid character in request body"}, rec)
        handler(rec, data)

    def _root(self, rec: RecordedRequest, data: Any) -> None:
        payload = b"Ollama is running"
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _version(self, rec: RecordedRequest, data: Any) -> None:
        self._send_json(200, {"version": self.state.version}, rec)

    # --- blobs ----------------------------------------------------------------------
    def _blob(self, digest: str) -> None:
        if self.command not in ("HEAD", "POST"):
            rec = self._record(None, 0)
            return self._send_json(405, {"error": "405 method not allowed"}, rec)
        if not DIGEST_RE.match(digest):
            body = self._read_body() if self.command == "POST" else b""
            return self._send_json(400, {"error": "invalid digest format"}, self._record(None, len(body)))
        target = self.state.blob_path(digest)
        if self.command == "HEAD":
            rec = self._record(None, 0)
            if target.exists():
                return self._send_empty(200, rec)
            return self._send_json(404, {"error": f'blob "{digest}" not found'}, rec)
        # POST
        rec = self._record(None, 0)
        if target.exists():
            rec.bytes_received = len(self._read_body())
            return self._send_empty(200, rec)
        sha = hashlib.sha256()
        limit = self.state.faults.drop_upload_after
        tmp = tempfile.NamedTemporaryFile(dir=self.state.blobs, delete=False, prefix=".partial-")  # noqa: SIM115
        chunks = self._iter_chunked() if self.headers.get("Transfer-Encoding", "").lower() == "chunked" else self._iter_length()
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
            if got != digest:
                return self._send_json(400, {"error": f'digest mismatch, expected "{digest}", got "{got}"'}, rec)
            Path(tmp.name).replace(target)
            self._send_empty(201, rec)
        finally:
            Path(tmp.name).unlink(missing_ok=True)

    def _iter_length(self) -> Any:
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
    def _create(self, rec: RecordedRequest, req: Any) -> None:
        if not isinstance(req, dict):
            return self._send_json(400, {"error": "missing request body"}, rec)
        faults = self.state.faults
        if faults.create_http_error:
            status, text = faults.create_http_error
            return self._send_json(status, {"error": text}, rec)
        raw_name = req.get("model") or req.get("name") or ""
        if not raw_name:
            return self._send_json(400, {"error": "model is required"}, rec)
        key = parse_name(raw_name)
        if key is None:
            return self._send_json(400, {"error": "invalid model name"}, rec)
        files = req.get("files") or {}
        adapters = req.get("adapters") or {}
        if not req.get("from") and not files:
            return self._send_json(400, {"error": "neither 'from' or 'files' was specified"}, rec)
        drafts = req.get("draft_files") or {}
        if len(adapters) > 1:
            return self._send_json(400, {"error": "only one adapter is currently supported"}, rec)
        for mapping in (files, adapters, drafts):
            for fname, digest in mapping.items():
                if not valid_path(fname):
                    return self._send_json(400, {"error": f"file path must be relative: {fname}"}, rec)
                if not isinstance(digest, str) or not DIGEST_RE.match(digest):
                    return self._send_json(400, {"error": "invalid digest format"}, rec)
        stream = req.get("stream", True)
        lines: list[dict[str, Any]] = []
        error: CreateFailed | None = None
        try:
            self._build(key, req, lines)
        except CreateFailed as exc:
            error = exc
        if not stream:
            if error is not None:
                return self._send_json(error.status, {"error": str(error)}, rec)
            return self._send_json(200, {"status": "success"}, rec)
        self._start_stream(rec)
        for i, line in enumerate(lines):
            if faults.create_error_after is not None and i >= faults.create_error_after:
                self._chunk({"error": faults.create_error})
                self._end_stream()
                with self.state.lock:  # the model is not committed
                    self.state.models.pop(key, None)
                return
            self._chunk(line)
        if error is not None:
            self._chunk({"error": str(error)})
        self._end_stream()

    def _build(self, key: str, req: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        state = self.state
        newer = version_tuple(state.version) >= (0, 30, 0) or version_tuple(state.version) == (0, 0, 0)
        layers: list[dict[str, Any]] = []
        chat_template = ""
        details: dict[str, Any] = {"parent_model": "", "format": "gguf", "family": "", "families": None,
                                   "parameter_size": "", "quantization_level": ""}
        model_info: dict[str, Any] = {}
        base: ModelRecord | None = None
        if req.get("from"):
            base = state.model(req["from"])
            if base is None:
                lines.append({"status": "pulling manifest"})
                raise CreateFailed("pull model manifest: file does not exist", 500)
            layers = [dict(layer) for layer in base.layers]
            details = dict(base.details, parent_model=base.display)
            model_info = dict(base.model_info)
        else:
            lines.append({"status": "parsing GGUF"})
            shards: list[tuple[str, str, dict[str, Any]]] = []
            drafts = req.get("draft_files") or {}
            for fname, digest in {**req.get("files", {}), **req.get("adapters", {}), **drafts}.items():
                blob = state.blob_path(digest)
                if not blob.exists():
                    raise CreateFailed(f"blob {digest} not found")
                with open(blob, "rb") as handle:
                    if handle.read(4) != b"GGUF":
                        raise CreateFailed("supplied file was not in GGUF format")
                meta = gguf_meta(blob)
                size = blob.stat().st_size
                kind = "draft" if fname in drafts else classify(meta, fname in req.get("adapters", {}))
                if "split.count" in meta or SPLIT_RE.match(fname):
                    shards.append((fname, digest, meta))
                    if newer:
                        continue
                layers.append({"mediaType": f"application/vnd.ollama.image.{kind}", "digest": digest, "size": size, "from": fname})
                if kind == "model" and "general.architecture" in meta:
                    arch = meta["general.architecture"]
                    chat_template = meta.get("tokenizer.chat_template", "") or chat_template
                    ft = meta.get("general.file_type")
                    details.update(family=arch, families=[arch], quantization_level=FILE_TYPES.get(ft, str(ft)))
                    model_info = {k: v for k, v in meta.items() if k not in ("general.name", "tokenizer.chat_template", "tensor_count")}
            if shards and newer:
                layer, meta = merge_shards(self.state, shards)
                layers.insert(0, layer)
                arch = meta.get("general.architecture", "")
                chat_template = meta.get("tokenizer.chat_template", "") or chat_template
                ft = meta.get("general.file_type")
                details.update(family=arch, families=[arch], quantization_level=FILE_TYPES.get(ft, str(ft)))
                model_info = {k: v for k, v in meta.items() if not k.startswith("split.") and k not in ("general.name", "tokenizer.chat_template", "tensor_count")}
            for layer in layers:
                lines.append({"status": f"using existing layer sha256:{layer['digest'].split(':')[1]}"})
            if newer and layers:
                size = layers[0]["size"]
                lines.append({"status": "validating GGUF model", "digest": "0000000000000000000", "total": size, "completed": size})
        template = req.get("template", base.template if base else "")
        if template and template.count("{{") != template.count("}}"):
            raise CreateFailed("template error: template: :1: unclosed action")
        if newer and not template and chat_template:
            template = chat_template  # native: /api/show returns the Jinja
            tpl_caps = jinja_caps(chat_template)
        else:
            tpl_caps = [c for c, marker in (("tools", ".Tools"), ("insert", ".Suffix")) if marker in template]
        for field_name in ("template", "system"):
            if req.get(field_name):
                lines.append({"status": f"creating new layer sha256:{hashlib.sha256(req[field_name].encode()).hexdigest()}"})
        params = dict(base.parameters) if base else {}
        params.update(req.get("parameters") or {})
        lines.append({"status": "writing manifest"})
        lines.append({"status": "success"})
        caps = ["completion", *tpl_caps]
        if any(layer["mediaType"].endswith("projector") for layer in layers):
            caps.append("vision")
        lic = req.get("license") or []
        record = ModelRecord(
            name=key, display=display_name(key), layers=layers, template=template,
            system=req.get("system", base.system if base else ""), parameters=params,
            messages=list(req.get("messages") or []), license=[lic] if isinstance(lic, str) else list(lic),
            details=details, capabilities=caps, model_info=model_info,
            renderer=req.get("renderer", ""), parser=req.get("parser", ""),
        )
        with state.lock:
            state.models[key] = record

    # --- model queries --------------------------------------------------------------
    def _tags(self, rec: RecordedRequest, data: Any) -> None:
        models = sorted(self.state.models.values(), key=lambda m: m.modified_at, reverse=True)
        self._send_json(200, {"models": [{
            "name": m.display, "model": m.display, "modified_at": m.modified_at.isoformat(),
            "size": m.size, "digest": m.digest, "details": m.details,
        } for m in models]}, rec)

    def _ps(self, rec: RecordedRequest, data: Any) -> None:
        entries = sorted(self.state.running, key=lambda e: e["expires_at"], reverse=True)
        self._send_json(200, {"models": [{
            "name": e["name"], "model": e["name"], "size": e["size"], "size_vram": e["size_vram"],
            "digest": e["digest"], "details": e.get("details", {"format": "gguf", "family": "llama"}),
            "expires_at": e["expires_at"].isoformat(), "context_length": e["context_length"],
        } for e in entries]}, rec)

    def _show(self, rec: RecordedRequest, data: Any) -> None:
        name = (data or {}).get("model") or (data or {}).get("name")
        if not name:
            return self._send_json(400, {"error": "model is required"}, rec)
        m = self.state.model(name)
        if m is None:
            return self._send_json(404, {"error": f"model '{name}' not found"}, rec)
        params = "\n".join(
            f"{k:<30} {json.dumps(v)}" for k, vals in m.parameters.items() for v in (vals if isinstance(vals, list) else [vals])
        )
        mf = ['# Modelfile generated by "ollama show"', "# To build a new Modelfile based on this, replace FROM with:",
              f"# FROM {m.display}", ""]
        mf += [f"FROM {self.state.blob_path(layer['digest'])}" for layer in m.layers]
        if m.template:
            mf.append(f'TEMPLATE """{m.template}"""')
        if m.system:
            mf.append(f'SYSTEM """{m.system}"""')
        mf += [f"PARAMETER {k} {v}" for k, vals in m.parameters.items() for v in (vals if isinstance(vals, list) else [vals])]
        self._send_json(200, {
            "license": "\n".join(m.license), "modelfile": "\n".join(mf) + "\n", "parameters": params,
            "template": m.template, "system": m.system, "details": m.details, "messages": m.messages,
            "model_info": m.model_info, "capabilities": m.capabilities, "modified_at": m.modified_at.isoformat(),
        }, rec)

    def _delete(self, rec: RecordedRequest, data: Any) -> None:
        if not data:
            return self._send_json(400, {"error": "missing request body"}, rec)
        name = data.get("model") or data.get("name") or ""
        key = parse_name(name)
        with self.state.lock:
            if key is None or key not in self.state.models:
                return self._send_json(404, {"error": f"model '{name}' not found"}, rec)
            del self.state.models[key]
        self._send_empty(200, rec)

    def _copy(self, rec: RecordedRequest, data: Any) -> None:
        data = data or {}
        src, dst = data.get("source", ""), data.get("destination", "")
        if parse_name(src) is None:
            return self._send_json(400, {"error": f'source "{src}" is invalid'}, rec)
        if parse_name(dst) is None:
            return self._send_json(400, {"error": f'destination "{dst}" is invalid'}, rec)
        m = self.state.model(src)
        if m is None:
            return self._send_json(404, {"error": f'model "{src}" not found'}, rec)
        key = parse_name(dst)
        assert key is not None
        with self.state.lock:
            self.state.models[key] = ModelRecord(**{**m.__dict__, "name": key, "display": display_name(key)})
        self._send_empty(200, rec)

    # --- inference ------------------------------------------------------------------
    def _reply_text(self, req: dict[str, Any]) -> str:
        fmt = req.get("format")
        if fmt == "json":
            return json.dumps({"reply": self.state.chat_reply})
        if isinstance(fmt, dict):
            return json.dumps(instance_for(fmt))
        return self.state.chat_reply

    def _infer(self, rec: RecordedRequest, req: Any, kind: str) -> None:
        req = req or {}
        name = req.get("model", "")
        m = self.state.model(name) if name else None
        if m is None:
            return self._send_json(404, {"error": f"model '{name}' not found"}, rec)
        started = time.monotonic_ns()
        empty = not req.get("messages") if kind == "chat" else not req.get("prompt")
        keep_alive = req.get("keep_alive")
        if empty:
            reason = "unload" if keep_alive in (0, "0", "0s") else "load"
            done = {"model": name, "created_at": _now(), "done": True, "done_reason": reason}
            done["message" if kind == "chat" else "response"] = {"role": "assistant", "content": ""} if kind == "chat" else ""
            return self._send_json(200, done, rec)
        words = re.findall(r"\S+\s*", self._reply_text(req))
        limit = (req.get("options") or {}).get("num_predict")
        reason = "stop"
        if isinstance(limit, int) and 0 <= limit < len(words):
            words, reason = words[:limit], "length"
        self._load(m, req)
        final = {"model": name, "created_at": _now(), "done": True, "done_reason": reason,
                 "total_duration": time.monotonic_ns() - started + 1000, "load_duration": 500,
                 "prompt_eval_count": 7, "prompt_eval_duration": 1000, "eval_count": len(words), "eval_duration": 2000}

        def piece(text: str) -> dict[str, Any]:
            if kind == "chat":
                return {"model": name, "created_at": _now(), "message": {"role": "assistant", "content": text}, "done": False}
            return {"model": name, "created_at": _now(), "response": text, "done": False}

        if req.get("stream", True):
            self._start_stream(rec)
            for w in words:
                self._chunk(piece(w))
            last = piece("")
            last.update(final)
            self._chunk(last)
            self._end_stream()
            return
        out = piece("".join(words))
        out.update(final)
        self._send_json(200, out, rec)

    def _load(self, m: ModelRecord, req: dict[str, Any]) -> None:
        ctx = (req.get("options") or {}).get("num_ctx") or 4096
        now = datetime.now(timezone.utc)
        with self.state.lock:
            self.state.running = [e for e in self.state.running if parse_name(e["name"]) != m.name]
            self.state.running.append({"name": m.display, "size": m.size, "size_vram": m.size, "digest": m.digest,
                                       "expires_at": now + timedelta(minutes=5), "context_length": ctx,
                                       "details": m.details})

    def _chat(self, rec: RecordedRequest, req: Any) -> None:
        self._infer(rec, req, "chat")

    def _generate(self, rec: RecordedRequest, req: Any) -> None:
        if req and req.get("raw") and (req.get("template") or req.get("system") or req.get("context")):
            return self._send_json(400, {"error": "raw mode does not support template, system, or context"}, rec)
        self._infer(rec, req, "generate")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


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
