"""A local Hugging Face Hub that speaks the Hub's real wire protocol (reference hub.md §1-3, §7).

* ``GET /api/models/{repo}`` and ``/api/models/{repo}/revision/{rev}`` (``?blobs=true`` adds
  ``size``, ``blobId`` and ``lfs.sha256`` to the siblings)
* ``GET /api/models/{repo}/tree/{rev}[/{path}]?recursive=&expand=`` with ``lfs.oid`` and
  ``Link: <next>; rel="next"`` pagination (``page_size``)
* ``POST /api/models/{repo}/paths-info/{rev}`` (form body with repeated ``paths``)
* ``GET /api/models/{repo}/refs``
* ``HEAD/GET /{repo}/resolve/{rev}/{path}``: LFS files answer ``302`` to another origin
  (``http://localhost:PORT/cdn/...`` while the endpoint is ``http://127.0.0.1:PORT``, like the
  Hub's CDN) with ``X-Repo-Commit``, ``X-Linked-Etag``, ``X-Linked-Size``; regular files answer
  ``200`` with ``ETag`` = git blob sha1. Every answer has ``Content-Length`` and
  ``Accept-Ranges``; bodies are never compressed.
* Range requests: ``206`` + ``Content-Range`` or ``416``.
* Errors with ``X-Error-Code``: RepoNotFound, RevisionNotFound, EntryNotFound (+ X-Repo-Commit),
  GatedRepo (401 without a token, 403 with a token that lacks access).

Every request is recorded (method, path, host, headers, status, body bytes sent) so tests can
assert exactly what a client sent. ``throttle_bps`` slows file bodies down (kill-and-resume
tests), ``corrupt`` serves other bytes for a file from the CDN (integrity tests).

Hostile behaviours (each off by default; see the attributes in ``HubServer.__init__``): a body
that stalls after N bytes (``stall_after``), trickles (``trickle``), is cut (``drop_after``, once
or ``drop_repeat``), a 206 whose body runs on past the range (``range_extra``), a lying
``Content-Range`` (``content_range``), a redirect with a huge body (``redirect_pad``), error
answers of any size (``fail_next``), an ``/api`` answer that stalls, is padded past any sane
size (``api_stall``, ``api_pad``) or paginates to another origin (``next_origin``). File names
may hold lone surrogates (the JSON then carries ``\\udXXX`` escapes, as a hostile Hub could send).

Run standalone (for benchmarks or a manual ``HF_ENDPOINT=... forge quants``)::

    python tests/servers/hub_server.py owner/repo path/to/file.gguf [...]
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

_COPY_CHUNK = 256 * 1024


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(8 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class HubFile:
    path: str
    data: bytes | None = None  # in-memory content
    source: Path | None = None  # or a (large) file on disk
    lfs: bool = True
    sha256: str = ""
    size: int = 0
    oid: str = ""  # git blob sha1 (of the pointer file for LFS files)
    pointer_size: int = 0

    def __post_init__(self) -> None:
        if self.data is not None:
            self.size = len(self.data)
            self.sha256 = hashlib.sha256(self.data).hexdigest()
        else:
            assert self.source is not None
            self.size = self.source.stat().st_size
            self.sha256 = _file_sha256(self.source)
        if self.lfs:
            pointer = (
                f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {self.size}\n"
            ).encode()
            self.pointer_size = len(pointer)
            self.oid = git_blob_sha1(pointer)
        else:
            self.oid = git_blob_sha1(self.read(0, self.size))

    @property
    def etag(self) -> str:
        return self.sha256 if self.lfs else self.oid

    def read(self, start: int, stop: int) -> bytes:
        if self.data is not None:
            return self.data[start:stop]
        assert self.source is not None
        with open(self.source, "rb") as handle:
            handle.seek(start)
            return handle.read(stop - start)

    def tree_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "type": "file",
            "oid": self.oid,
            "size": self.size,
            "path": self.path,
        }
        if self.lfs:
            entry["lfs"] = {"oid": self.sha256, "size": self.size, "pointerSize": self.pointer_size}
        return entry


@dataclass
class HubRepo:
    repo_id: str
    files: dict[str, HubFile]
    commit: str
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    gated: bool = False
    tokens: set[str] = field(default_factory=set)  # tokens with access to a gated repo

    def resolve(self, rev: str) -> str | None:
        if rev == self.commit:
            return rev
        return self.branches.get(rev) or self.tags.get(rev)


@dataclass
class Recorded:
    method: str
    path: str  # raw path with query string
    host: str
    headers: dict[str, str]  # lower-case names
    status: int = 0
    body_bytes: int = 0  # bytes of body sent back

    @property
    def route(self) -> str:
        return self.path.split("?", 1)[0]

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)


class HubServer:
    """A threaded local Hub on 127.0.0.1 (CDN on localhost, same port)."""

    def __init__(self, *, page_size: int = 1000, throttle_bps: float | None = None) -> None:
        self.repos: dict[str, HubRepo] = {}
        self.requests: list[Recorded] = []
        self.page_size = page_size
        self.throttle_bps = throttle_bps
        self.corrupt: dict[tuple[str, str], bytes] = {}
        self.ignore_range = False  # answer 200 to Range requests (like a misbehaving proxy)
        self.drop_after: int | None = None  # cut the next file body after this many bytes (once)
        self.drop_repeat = False  # ... and every later one too
        self.stall_after: int | None = None  # file bodies: send this many bytes, then go silent
        self.stall_repeat = True  # every body stalls (False: only the next one)
        self.trickle: tuple[int, float] | None = None  # file bodies: (bytes, seconds) per write
        self.range_extra = (
            0  # 206 bodies run on this many bytes past the range (Content-Length says so)
        )
        self.content_range: Callable[[int, int, int], str] | None = (
            None  # (start, stop, size) -> header
        )
        self.api_stall = False  # /api answers: headers, then silence
        self.api_pad = 0  # /api answers: this many spaces appended to the JSON
        self.next_origin: str | None = None  # tree pagination links point at this origin instead
        self.redirect_pad = 0  # GET /resolve 302 answers carry this many body bytes
        self.fail_next: list[
            tuple[int, int]
        ] = []  # file GETs: answer (status, body size) instead, in order
        self._released = threading.Event()  # set on stop(): stalled handlers finish
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- set-up -------------------------------------------------------------------------
    def add_repo(
        self,
        repo_id: str,
        files: Mapping[str, bytes | Path | str],
        *,
        gated: bool = False,
        tokens: Iterable[str] = (),
        lfs: Iterable[str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> HubRepo:
        """Add a repo; ``lfs`` names the LFS files (default: every file except small text files)."""
        hub_files: dict[str, HubFile] = {}
        lfs_set = set(lfs) if lfs is not None else None
        for path, content in files.items():
            is_lfs = (
                (path in lfs_set)
                if lfs_set is not None
                else not path.endswith((".md", ".json", ".txt"))
            )
            if isinstance(content, bytes):
                hub_files[path] = HubFile(path=path, data=content, lfs=is_lfs)
            else:
                hub_files[path] = HubFile(path=path, source=Path(content), lfs=is_lfs)
        commit = hashlib.sha1(
            (repo_id + "".join(f"{p}:{f.etag}" for p, f in sorted(hub_files.items()))).encode(
                "utf-8", "surrogatepass"
            )
        ).hexdigest()
        repo = HubRepo(
            repo_id=repo_id,
            files=hub_files,
            commit=commit,
            branches={"main": commit},
            tags={name: commit for name in (tags or {})},
            gated=gated,
            tokens=set(tokens),
        )
        self.repos[repo_id] = repo
        return repo

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> HubServer:
        server = self

        class Handler(_Handler):
            hub = server

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="hub-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return int(self._httpd.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cdn(self) -> str:
        return f"http://localhost:{self.port}"

    # --- inspection helpers for tests ---------------------------------------------------
    def record(self, rec: Recorded) -> None:
        with self._lock:
            self.requests.append(rec)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def find(self, method: str | None = None, contains: str = "") -> list[Recorded]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and contains in r.path
            ]

    def file_gets(self) -> list[Recorded]:
        """GETs that carried file bytes (CDN or direct resolve)."""
        return [
            r for r in self.find("GET") if r.route.startswith("/cdn/") or "/resolve/" in r.route
        ]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up (the point of many hostile tests) is not a server error.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    hub: HubServer
    protocol_version = "HTTP/1.1"
    server_version = "LocalHub/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # --- plumbing -----------------------------------------------------------------------
    def _start(self) -> Recorded:
        rec = Recorded(
            method=self.command,
            path=self.path,
            host=self.headers.get("Host", ""),
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        self.hub.record(rec)
        return rec

    def _send(
        self,
        rec: Recorded,
        status: int,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        rec.status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
            rec.body_bytes += len(body)

    def _json(
        self, rec: Recorded, data: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        body = json.dumps(data).encode()
        if rec.route.startswith("/api/") and status == 200:
            if self.hub.api_stall:
                rec.status = status
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[:1])
                self.wfile.flush()
                self.hub._released.wait(120)
                self.close_connection = True
                return
            body += b" " * self.hub.api_pad
        self._send(rec, status, body, headers)

    def _error(
        self,
        rec: Recorded,
        status: int,
        code: str | None,
        message: str,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        headers = {"X-Error-Message": message, **(extra or {})}
        if code:
            headers["X-Error-Code"] = code
        self._json(rec, {"error": message}, status, headers)

    def _filler(
        self, rec: Recorded, status: int, size: int, headers: Mapping[str, str] | None = None
    ) -> None:
        """An answer of ``size`` zero bytes, written piece by piece (sizes beyond memory are fine)."""
        rec.status = status
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        left = size
        while left > 0:
            n = min(_COPY_CHUNK, left)
            self.wfile.write(b"\0" * n)
            rec.body_bytes += n
            left -= n

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        rec = self._start()
        body = self._read_body() if self.command == "POST" else b""
        raw_path, _, raw_query = self.path.partition("?")
        query = parse_qs(raw_query)
        parts = raw_path.split("/")[1:]
        try:
            if parts[:2] == ["api", "models"] and len(parts) >= 4:
                self._api(rec, parts[2:], query, body)
            elif parts[:1] == ["_control"] and len(parts) >= 2:
                self._control(rec, parts[1], query)
            elif parts[:1] == ["cdn"] and len(parts) == 4:
                self._cdn(rec, f"{parts[1]}/{parts[2]}", parts[3])
            elif len(parts) >= 5 and parts[2] == "resolve":
                self._resolve(
                    rec, f"{parts[0]}/{parts[1]}", unquote(parts[3]), unquote("/".join(parts[4:]))
                )
            else:
                self._send(rec, 404, b"Not Found", content_type="text/plain")
        except (BrokenPipeError, ConnectionResetError):
            pass

    # --- test control (for out-of-process use by benchmarks) -----------------------------------
    def _control(self, rec: Recorded, action: str, query: dict[str, list[str]]) -> None:
        if action == "requests":
            with self.hub._lock:
                data = [
                    {
                        "method": r.method,
                        "path": r.path,
                        "host": r.host,
                        "headers": r.headers,
                        "status": r.status,
                        "body_bytes": r.body_bytes,
                    }
                    for r in self.hub.requests
                    if r is not rec
                ]
            self._json(rec, data)
        elif action == "clear":
            self.hub.clear()
            self._json(rec, {"ok": True})
        elif action == "throttle":
            value = query.get("bps", [""])[0]
            self.hub.throttle_bps = float(value) if value else None
            self._json(rec, {"throttle_bps": self.hub.throttle_bps})
        else:
            self._send(rec, 404, b"Not Found", content_type="text/plain")

    # --- access control -----------------------------------------------------------------
    def _repo(self, rec: Recorded, repo_id: str) -> HubRepo | None:
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            self._error(rec, 404, "RepoNotFound", "Repository not found")
            return None
        if repo.gated:
            auth = self.headers.get("Authorization", "")
            token = auth[7:] if auth.startswith("Bearer ") else None
            if token is None:
                self._error(
                    rec,
                    401,
                    "GatedRepo",
                    f"Access to model {repo_id} is restricted. You must have access "
                    "to it and be authenticated to access it. Please log in.",
                )
                return None
            if token not in repo.tokens:
                self._error(
                    rec,
                    403,
                    "GatedRepo",
                    f"Access to model {repo_id} is restricted and you are not in "
                    "the authorized list. Visit https://huggingface.co/"
                    + repo_id
                    + " to ask for access.",
                )
                return None
        return repo

    def _commit(self, rec: Recorded, repo: HubRepo, rev: str) -> str | None:
        commit = repo.resolve(rev)
        if commit is None:
            self._error(rec, 404, "RevisionNotFound", f"Invalid rev id: {rev}")
        return commit

    # --- /api/models ----------------------------------------------------------------------
    def _api(
        self, rec: Recorded, parts: list[str], query: dict[str, list[str]], body: bytes
    ) -> None:
        repo_id = f"{parts[0]}/{parts[1]}"
        rest = parts[2:]
        repo = self._repo(rec, repo_id)
        if repo is None:
            return
        if not rest or rest[0] == "revision":
            rev = unquote(rest[1]) if len(rest) >= 2 else "main"
            commit = self._commit(rec, repo, rev)
            if commit is not None:
                self._json(
                    rec, self._model_info(repo, commit, blobs=query.get("blobs") == ["true"])
                )
            return
        if rest[0] == "refs" and self.command == "GET":
            self._json(
                rec,
                {
                    "branches": [
                        {"name": n, "ref": f"refs/heads/{n}", "targetCommit": c}
                        for n, c in repo.branches.items()
                    ],
                    "tags": [
                        {"name": n, "ref": f"refs/tags/{n}", "targetCommit": c}
                        for n, c in repo.tags.items()
                    ],
                    "converts": [],
                },
            )
            return
        if rest[0] == "tree" and len(rest) >= 2 and self.command == "GET":
            commit = self._commit(rec, repo, unquote(rest[1]))
            if commit is None:
                return
            sub = unquote("/".join(rest[2:])).strip("/")
            self._tree(rec, repo, rest[1], sub, query)
            return
        if rest[0] == "paths-info" and len(rest) >= 2 and self.command == "POST":
            commit = self._commit(rec, repo, unquote(rest[1]))
            if commit is None:
                return
            form = parse_qs(body.decode())
            wanted = form.get("paths", [])
            out = []
            dirs = self._dirs(repo)
            for p in wanted:
                if p in repo.files:
                    out.append(repo.files[p].tree_entry())
                elif p in dirs:
                    out.append(
                        {
                            "type": "directory",
                            "oid": hashlib.sha1(p.encode("utf-8", "surrogatepass")).hexdigest(),
                            "size": 0,
                            "path": p,
                        }
                    )
            self._json(rec, out)
            return
        self._send(rec, 404, b"Not Found", content_type="text/plain")

    def _model_info(self, repo: HubRepo, commit: str, *, blobs: bool) -> dict[str, Any]:
        siblings = []
        for f in repo.files.values():
            entry: dict[str, Any] = {"rfilename": f.path}
            if blobs:
                entry["size"] = f.size
                entry["blobId"] = f.oid
                if f.lfs:
                    entry["lfs"] = {
                        "sha256": f.sha256,
                        "size": f.size,
                        "pointerSize": f.pointer_size,
                    }
            siblings.append(entry)
        return {
            "_id": hashlib.md5(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": commit,
            "lastModified": "2026-01-01T00:00:00.000Z",
            "createdAt": "2026-01-01T00:00:00.000Z",
            "private": False,
            "gated": "manual" if repo.gated else False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "library_name": "gguf",
            "tags": ["gguf"],
            "siblings": siblings,
        }

    def _dirs(self, repo: HubRepo) -> set[str]:
        out: set[str] = set()
        for p in repo.files:
            segs = p.split("/")[:-1]
            for i in range(1, len(segs) + 1):
                if segs[i - 1]:
                    out.add("/".join(segs[:i]))
        return out

    def _tree(
        self, rec: Recorded, repo: HubRepo, raw_rev: str, sub: str, query: dict[str, list[str]]
    ) -> None:
        recursive = query.get("recursive", ["false"])[0].lower() == "true"
        dirs = self._dirs(repo)
        if sub and sub not in dirs:
            self._error(
                rec,
                404,
                "EntryNotFound",
                f'{sub} does not exist on "{raw_rev}"',
                {"X-Repo-Commit": repo.commit},
            )
            return
        prefix = f"{sub}/" if sub else ""
        entries: list[dict[str, Any]] = []
        for d in sorted(dirs):
            if d.startswith(prefix) and (recursive or "/" not in d[len(prefix) :]):
                entries.append(
                    {
                        "type": "directory",
                        "oid": hashlib.sha1(d.encode("utf-8", "surrogatepass")).hexdigest(),
                        "size": 0,
                        "path": d,
                    }
                )
        for p in sorted(repo.files):
            if p.startswith(prefix) and (recursive or "/" not in p[len(prefix) :]):
                entries.append(repo.files[p].tree_entry())
        cursor = int(query.get("cursor", ["0"])[0])
        page = entries[cursor : cursor + self.hub.page_size]
        headers: dict[str, str] = {}
        if cursor + self.hub.page_size < len(entries):
            host = self.headers.get("Host", f"127.0.0.1:{self.hub.port}")
            path_part = f"/{quote(sub, safe='')}" if sub else ""
            nxt = (
                f"http://{host}/api/models/{repo.repo_id}/tree/{raw_rev}{path_part}"
                f"?recursive={str(recursive).lower()}&expand=false&cursor={cursor + self.hub.page_size}"
            )
            if self.hub.next_origin:
                nxt = self.hub.next_origin + nxt[len(f"http://{host}") :]
            headers["Link"] = f'<{nxt}>; rel="next"'
        self._json(rec, page, headers=headers)

    # --- /resolve and the CDN -------------------------------------------------------------
    def _resolve(self, rec: Recorded, repo_id: str, rev: str, path: str) -> None:
        if self.command not in ("GET", "HEAD"):
            self._send(rec, 405, b"", content_type="text/plain")
            return
        repo = self._repo(rec, repo_id)
        if repo is None:
            return
        commit = self._commit(rec, repo, rev)
        if commit is None:
            return
        f = repo.files.get(path)
        if f is None:
            self._error(
                rec,
                404,
                "EntryNotFound",
                f'{path} does not exist on "{rev}"',
                {"X-Repo-Commit": commit},
            )
            return
        if f.lfs:
            location = f"{self.hub.cdn}/cdn/{repo_id}/{f.sha256}?X-Amz-Signature=local"
            body = f"Found. Redirecting to {location}".encode()
            headers = {
                "Location": location,
                "X-Repo-Commit": commit,
                "ETag": f'"{f.oid}"',
                "X-Linked-Etag": f'"{f.sha256}"',
                "X-Linked-Size": str(f.size),
                "Accept-Ranges": "bytes",
            }
            if self.hub.redirect_pad and self.command == "GET":
                self._filler(rec, 302, self.hub.redirect_pad, headers)
                return
            self._send(rec, 302, body, headers, content_type="text/plain; charset=utf-8")
            return
        self._serve_bytes(rec, repo, f, {"X-Repo-Commit": commit, "ETag": f'"{f.oid}"'})

    def _cdn(self, rec: Recorded, repo_id: str, sha: str) -> None:
        repo = self.hub.repos.get(repo_id)
        f = (
            next((x for x in repo.files.values() if x.lfs and x.sha256 == sha), None)
            if repo
            else None
        )
        if repo is None or f is None:
            self._send(
                rec, 404, b"<Error><Code>NoSuchKey</Code></Error>", content_type="application/xml"
            )
            return
        self._serve_bytes(rec, repo, f, {"ETag": f'"{f.sha256}"'})

    def _serve_bytes(
        self, rec: Recorded, repo: HubRepo, f: HubFile, headers: dict[str, str]
    ) -> None:
        with self.hub._lock:
            failure = (
                self.hub.fail_next.pop(0) if self.hub.fail_next and self.command == "GET" else None
            )
        if failure is not None:
            self._filler(rec, *failure)
            return
        corrupt = self.hub.corrupt.get((repo.repo_id, f.path))
        size = f.size
        start, stop, status = 0, size, 200
        rng = self.headers.get("Range")
        if rng and not self.hub.ignore_range:
            try:
                unit, _, spec = rng.partition("=")
                first, _, last = spec.partition("-")
                if unit.strip() != "bytes" or "," in spec:
                    raise ValueError(rng)
                if first == "":
                    start, stop = max(0, size - int(last)), size
                else:
                    start = int(first)
                    stop = min(size, int(last) + 1) if last else size
            except ValueError:
                start = -1
            if start < 0 or start >= size or stop <= start:
                self._send(
                    rec,
                    416,
                    b"",
                    {**headers, "Content-Range": f"bytes */{size}"},
                    content_type="text/plain",
                )
                return
            status = 206
            header = (
                self.hub.content_range(start, stop, size)
                if self.hub.content_range
                else f"bytes {start}-{stop - 1}/{size}"
            )
            headers = {**headers, "Content-Range": header}
        extra = self.hub.range_extra if status == 206 else 0
        rec.status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(stop - start + extra))
        self.end_headers()
        if self.command == "HEAD":
            return
        pos = start
        began = time.monotonic()
        sent = 0
        with self.hub._lock:
            drop = self.hub.drop_after
            if not self.hub.drop_repeat:
                self.hub.drop_after = None
            stall = self.hub.stall_after
            if not self.hub.stall_repeat:
                self.hub.stall_after = None
        trickle = self.hub.trickle
        while pos < stop + extra:
            if drop is not None and sent >= drop:
                self.close_connection = True
                self.wfile.flush()
                self.connection.shutdown(2)  # the client sees the body end early
                return
            if stall is not None and sent >= stall:
                self.wfile.flush()
                self.hub._released.wait(120)  # silent until the test ends
                self.close_connection = True
                return
            n = min(_COPY_CHUNK, stop + extra - pos)
            if drop is not None:
                n = min(n, max(1, drop - sent))
            if stall is not None:
                n = min(n, max(1, stall - sent))
            if trickle is not None:
                n = min(n, trickle[0])
            if pos >= stop:  # past the range: filler
                block = b"\0" * n
            else:
                n = min(n, stop - pos)
                block = corrupt[pos : pos + n] if corrupt is not None else f.read(pos, pos + n)
                if len(block) < n:
                    block = block + b"\0" * (n - len(block))
            self.wfile.write(block)
            if trickle is not None:
                self.wfile.flush()
                time.sleep(trickle[1])
            pos += n
            sent += n
            rec.body_bytes += n
            bps = self.hub.throttle_bps
            if bps:
                ahead = sent / bps - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - manual use
    import argparse

    parser = argparse.ArgumentParser(description="Serve files as a local Hugging Face Hub repo")
    parser.add_argument("repo")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--throttle", type=float, default=None, help="bytes per second")
    args = parser.parse_args(argv)
    server = HubServer(throttle_bps=args.throttle).start()
    server.add_repo(args.repo, {f.name: f for f in args.files})
    print(f"HF_ENDPOINT={server.endpoint}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
