"""Verified, resumable downloads into huggingface_hub's own cache layout.

For each file: ``HEAD /{repo}/resolve/{commit}/{path}`` through ``get_hf_file_metadata`` (etag,
size, CDN location), then a streamed GET through huggingface_hub's shared session and retry helper
into ``blobs/<etag>.forge-partial``. A killed run leaves that partial file; the next run re-hashes
its prefix once and continues with ``Range: bytes=<size>-`` (huggingface_hub itself restarts from
byte 0 across runs). Bytes are hashed while they stream (in a second thread, so hashing overlaps
the network), the SHA-256 is compared with the Hub's LFS metadata, and only then is the blob moved
to ``blobs/<etag>`` and linked from ``snapshots/<commit>/<path>`` with ``refs/<rev>`` written, so
``hf_hub_download`` and llama.cpp find it (offline too). A mismatch deletes the bad bytes only.

Within a run, a cut, reset, stalled (``FORGE_HUB_TIMEOUT``) or too slow (``FORGE_HUB_MIN_RATE``)
body, or a busy answer (408/429/5xx), is resumed with ``Range`` (see ``_stream``), whatever HTTP
stack huggingface_hub uses (``_http``). Folders below the cache root are never followed through a
symlink, and the partial file is opened with ``O_NOFOLLOW``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..digests import validate_sha256_hex
from ..errors import ForgeWarning, HubError, IntegrityError, OfflineError, UnsafeNameError
from ..text import safe_text
from ._errors import convert, hub_errors
from ._http import (
    RateGuard,
    guarded_raw,
    is_transient,
    limits,
    pause,
    raise_for_status,
    request_timeout,
    same_origin,
    stream,
    transport_errors,
)
from .cachefs import (
    atomic_write_text,
    cachedir_tag,
    check_space,
    chmod_like_umask,
    link_pointer,
    open_partial,
)
from .hashing import Hasher, ProgressFn, hash_file
from .listing import COMMIT_RE, RemoteFile, repo_folder
from .names import check_real_dirs, real_dirs, safe_join

STREAM_CHUNK = 1024 * 1024
PARTIAL_SUFFIX = ".forge-partial"
_RETRIES = 5


class CachedFile(BaseModel):
    repo_path: str
    path: str  # snapshots/<commit>/<path> (a symlink into blobs/)
    blob_path: str
    size: int
    sha256: str
    downloaded_bytes: int = 0  # bytes received over the network by this call
    resumed_from: int = 0  # size of the partial file this call continued from
    hashed_bytes: int = 0  # bytes read back from disk to verify (partial prefix or cached blob)
    cached: bool = False  # already complete in the cache before this call


def _blob_name(meta_etag: str | None, file: RemoteFile) -> str:
    etag = (meta_etag or "").strip()
    expected = file.etag
    if file.sha256 is not None:
        validate_sha256_hex(etag, what=f"ETag of {file.path}")
        if etag != file.sha256:
            raise HubError(
                f"{file.path}: the Hub's ETag {etag} differs from its listed LFS sha256 {file.sha256}",
                hint="The repo changed while forge was reading it; run the command again.",
            )
        return etag
    if not (len(etag) == 40 and all(c in "0123456789abcdef" for c in etag)) or etag != expected:
        raise UnsafeNameError(f"Unexpected ETag {etag!r} for {file.path}", filename=file.path)
    return etag


def ensure_file(
    *,
    repo: str,
    revision: str,
    commit: str,
    file: RemoteFile,
    cache_dir: Path,
    endpoint: str,
    token: str | None,
    offline: bool,
    trusted: Callable[[Path], str | None] | None = None,
    progress: ProgressFn | None = None,
    restart: Callable[[], None] | None = None,
) -> CachedFile:
    """Make ``file`` present and verified in the cache; return where it is.

    ``trusted(blob)`` may return a digest recorded earlier for an unchanged blob (no re-hash).
    ``progress(n)`` receives byte counts; ``restart()`` is called when a partial file is dropped.
    """
    if not COMMIT_RE.match(commit):
        raise UnsafeNameError(f"Invalid commit id {commit!r}")
    storage = cache_dir / repo_folder(repo)
    pointer = safe_join(storage / "snapshots" / commit, file.path)
    check_real_dirs(cache_dir, pointer.parent)  # before any lookup: a linked folder leads elsewhere
    check_real_dirs(cache_dir, storage / "blobs")
    expected_sha = file.sha256

    # 1. Already in the cache (this commit, or the same blob from another snapshot)?
    if pointer.exists():
        blob = Path(os.path.realpath(pointer))
        done = _check_cached(file, blob, trusted, progress, cache_dir)
        if done is not None:
            if revision != commit and not offline:
                with contextlib.suppress(OSError):  # the cache may be read-only: best effort
                    atomic_write_text(safe_join(storage / "refs", revision), commit, cache_dir)
            return CachedFile(
                repo_path=file.path,
                path=str(pointer),
                blob_path=str(blob),
                size=file.size,
                sha256=done[0],
                hashed_bytes=done[1],
                cached=True,
            )
        with contextlib.suppress(OSError):
            pointer.unlink()
    if file.etag is not None:
        blob = storage / "blobs" / file.etag
        if blob.is_file():
            done = _check_cached(file, blob, trusted, progress, cache_dir)
            if done is not None:
                link_pointer(blob, pointer, cache_dir)
                if revision != commit:
                    atomic_write_text(safe_join(storage / "refs", revision), commit, cache_dir)
                return CachedFile(
                    repo_path=file.path,
                    path=str(pointer),
                    blob_path=str(blob),
                    size=file.size,
                    sha256=done[0],
                    hashed_bytes=done[1],
                    cached=True,
                )
    if offline:
        raise _offline_missing(repo, revision, [file.path])

    # 2. Metadata (HEAD on /resolve, follows Hub redirects, stops at the CDN).
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.utils import WeakFileLock

    url = hf_hub_url(repo, file.path, revision=commit, endpoint=endpoint)
    with hub_errors(repo=repo, revision=revision, filename=file.path):
        meta = get_hf_file_metadata(
            url,
            token=token,
            endpoint=endpoint,
            library_name="ollama-forge",
            timeout=limits().timeout,
        )
    if meta.commit_hash and meta.commit_hash != commit:
        raise HubError(
            f"{file.path}: the Hub served commit {meta.commit_hash}, expected {commit}",
            hint="The revision moved while forge was reading it; run the command again.",
        )
    etag = _blob_name(meta.etag, file)
    if meta.size is not None and meta.size != file.size:
        raise HubError(
            f"{file.path}: the Hub reports {meta.size} bytes, the listing {file.size}",
            hint="The repo changed while forge was reading it; run the command again.",
        )
    blob = storage / "blobs" / etag
    partial = blob.with_name(blob.name + PARTIAL_SUFFIX)
    lock = cache_dir / ".locks" / repo_folder(repo) / f"{etag}.lock"
    real_dirs(cache_dir, lock.parent)
    real_dirs(cache_dir, blob.parent)
    cachedir_tag(cache_dir)
    location = meta.location or url
    with WeakFileLock(str(lock)):
        if blob.is_file():  # another process finished it meanwhile
            done = _check_cached(file, blob, trusted, progress, cache_dir)
            if done is not None:
                result = CachedFile(
                    repo_path=file.path,
                    path=str(pointer),
                    blob_path=str(blob),
                    size=file.size,
                    sha256=done[0],
                    hashed_bytes=done[1],
                    cached=True,
                )
                _finish(cache_dir, storage, blob, pointer, revision, commit)
                return result
        stats = _download(
            url=location,
            origin=url,
            partial=partial,
            file=file,
            token=token,
            repo=repo,
            revision=revision,
            progress=progress,
            restart=restart,
        )
        sha256, sha1 = stats["sha256"], stats["sha1"]
        ok = sha256 == expected_sha if expected_sha is not None else sha1 == file.blob_id
        if not ok:
            with contextlib.suppress(OSError):
                partial.unlink()
            want = expected_sha or file.blob_id
            raise IntegrityError(
                f"{file.path} is corrupt: its SHA-256 is {sha256}, the Hub's LFS metadata says {want}"
                if expected_sha
                else f"{file.path} is corrupt: git blob id {sha1}, expected {want}",
                hint="The bad bytes were deleted; run the command again to download the file afresh.",
                filename=file.path,
                expected=want,
                actual=sha256 if expected_sha else sha1,
            )
        chmod_like_umask(partial)
        os.replace(partial, blob)
        _finish(cache_dir, storage, blob, pointer, revision, commit)
    return CachedFile(
        repo_path=file.path,
        path=str(pointer),
        blob_path=str(blob),
        size=file.size,
        sha256=sha256,
        downloaded_bytes=stats["received"],
        resumed_from=stats["resumed_from"],
        hashed_bytes=stats["prefix_read"],
    )


def _finish(
    cache_dir: Path, storage: Path, blob: Path, pointer: Path, revision: str, commit: str
) -> None:
    link_pointer(blob, pointer, cache_dir)
    if revision != commit:
        atomic_write_text(safe_join(storage / "refs", revision), commit, cache_dir)


def _check_cached(
    file: RemoteFile,
    blob: Path,
    trusted: Callable[[Path], str | None] | None,
    progress: ProgressFn | None,
    cache_dir: Path,
) -> tuple[str, int] | None:
    """(sha256, bytes read) when the cached blob is the expected file, else None (and it is removed).

    Only a blob inside the cache is ever removed: a pointer planted to lead elsewhere is just not used.
    """
    try:
        size = blob.stat().st_size
    except OSError:
        return None
    if not Path(os.path.realpath(blob)).is_relative_to(os.path.realpath(cache_dir)):
        return None
    if size != file.size:
        _discard(blob)
        return None
    known = trusted(blob) if trusted else None
    if known is not None and (file.sha256 is None or known == file.sha256):
        if progress:
            progress(size)
        return known, 0
    if file.sha256 is None:  # a regular (non-LFS) git file: verify its git blob id
        sha, sha1 = hash_file(blob, git_size=size, progress=progress)
        if sha1 == file.blob_id:
            return sha, size
    else:
        sha, _ = hash_file(blob, progress=progress)
        if sha == file.sha256:
            return sha, size
    _discard(blob)
    return None


def _discard(blob: Path) -> None:
    import warnings

    warnings.warn(
        f"cached blob {safe_text(blob)} does not match the Hub's metadata; downloading it again",
        ForgeWarning,
        stacklevel=2,
    )
    with contextlib.suppress(OSError):
        blob.unlink()


def _offline_missing(repo: str, revision: str, paths: list[str]) -> HubError:

    return OfflineError(
        f"Offline (HF_HUB_OFFLINE is set) and not in the cache: {', '.join(paths)} from {repo}@{revision}",
        hint=f"Unset HF_HUB_OFFLINE (or connect) and run: forge pull-gguf {repo}",
        repo=repo,
        revision=revision,
        missing=paths,
    )


def _blocks(response: Any, guard: RateGuard) -> Iterator[bytearray]:
    """The body in ~STREAM_CHUNK pieces with one copy per byte (iter_bytes makes three).

    Every network chunk passes the rate guard, so a trickling body fails within one period.
    """
    buf = bytearray()
    try:
        for raw in guarded_raw(response, guard):
            buf += raw
            if len(buf) >= STREAM_CHUNK:
                yield buf
                buf = bytearray()
    except Exception:
        if buf:  # hand over what did arrive, so the resume starts after it, then fail
            yield buf
        raise
    if buf:
        yield buf


def _download(
    *,
    url: str,
    origin: str,
    partial: Path,
    file: RemoteFile,
    token: str | None,
    repo: str,
    revision: str,
    progress: ProgressFn | None,
    restart: Callable[[], None] | None,
) -> dict[str, Any]:
    """Stream ``url`` into ``partial`` (resuming it), hashing on the fly. Returns digests and counters."""
    from huggingface_hub.utils import build_hf_headers

    total = file.size
    hasher = Hasher(total if file.sha256 is None else None)
    headers = build_hf_headers(token=token, library_name="ollama-forge")
    headers["Accept-Encoding"] = "identity"  # a compressed body would break Range arithmetic
    if not same_origin(url, origin):
        headers.pop("authorization", None)  # never send the token to the CDN
    if partial.is_symlink():
        raise UnsafeNameError(
            f"Refusing to write through {partial}: it is a symbolic link",
            hint="Remove the link and run the command again.",
            path=str(partial),
        )
    have = partial.stat().st_size if partial.exists() else 0
    if have > total:
        partial.unlink()
        have = 0
    resumed_from = have
    prefix_read = hasher.hash_prefix(partial, have) if have else 0
    if progress and have:
        progress(have)
    check_space(partial.parent, total - have, file.path)
    try:
        return _stream(
            url=url,
            headers=headers,
            partial=partial,
            file=file,
            hasher=hasher,
            have=have,
            resumed_from=resumed_from,
            prefix_read=prefix_read,
            repo=repo,
            revision=revision,
            progress=progress,
            restart=restart,
        )
    except OSError as exc:
        hasher.drain()
        raise HubError(
            f"Cannot write {partial}: {exc.strerror or exc}",
            hint="Free some disk space (or point HF_HUB_CACHE elsewhere) and run again: forge resumes the "
            "partial download.",
            filename=file.path,
        ) from exc


def _stream(
    *,
    url: str,
    headers: dict[str, str],
    partial: Path,
    file: RemoteFile,
    hasher: Hasher,
    have: int,
    resumed_from: int,
    prefix_read: int,
    repo: str,
    revision: str,
    progress: ProgressFn | None,
    restart: Callable[[], None] | None,
) -> dict[str, Any]:
    """GET the rest of the file, resuming with ``Range`` after every transient failure.

    Transient: any transport error of huggingface_hub's HTTP stack (refused, reset, cut body,
    read timeout) or a body slower than FORGE_HUB_MIN_RATE. ``_RETRIES`` consecutive failures
    that each brought less than STREAM_CHUNK give up with a HubError (the partial file stays, so
    the next run resumes); an attempt that brought at least that much resets the count.
    """
    lim = limits()
    timeout = request_timeout(lim)
    caught: tuple[type[BaseException], ...] = (HubError, *transport_errors())
    total = file.size
    received = 0
    retries = _RETRIES
    with open_partial(partial) as out:
        out.seek(have)
        out.truncate()
        while have < total:
            req = dict(headers)
            if have:
                req["Range"] = f"bytes={have}-"
            attempt_start = have
            try:
                # Not huggingface_hub's http_stream_backoff: a failure *inside* the body cannot be retried
                # there and its last-try error path reads an error body whole. This loop resumes instead.
                with (
                    hub_errors(repo=repo, revision=revision, filename=file.path),
                    stream(
                        url,
                        headers=req,
                        timeout=timeout,
                        what=file.path,
                    ) as response,
                ):
                    if response.status_code == 416 and have:
                        # Our partial is not a prefix the server knows: start over.
                        out.seek(0)
                        out.truncate()
                        have = 0
                        hasher.restart()
                        if restart:
                            restart()
                        continue
                    raise_for_status(response, file.path)
                    if response.status_code not in (200, 206):
                        raise HubError(
                            f"{file.path}: unexpected HTTP {response.status_code} answer to a download",
                            hint="HF_ENDPOINT must point at a Hugging Face Hub compatible server.",
                        )
                    if have and response.status_code == 200:  # Range ignored: restart from 0
                        out.seek(0)
                        out.truncate()
                        have = attempt_start = 0
                        hasher.restart()
                        if restart:
                            restart()
                    elif have and response.status_code == 206:
                        start = (
                            response.headers.get("Content-Range", "")
                            .removeprefix("bytes ")
                            .partition("-")[0]
                        )
                        if start.strip() != str(have):
                            raise HubError(
                                f"{file.path}: the server resumed at {start[:40]!r}, asked {have}",
                                hint="Run the command again; if it persists check proxies and HF_ENDPOINT.",
                            )
                    encoding = response.headers.get("Content-Encoding", "identity").lower()
                    if encoding not in ("", "identity"):
                        raise HubError(
                            f"{file.path}: the server compressed the body ({encoding[:40]}) despite "
                            "Accept-Encoding: identity",
                            hint="Check proxies between you and the Hub.",
                        )
                    guard = RateGuard(lim, file.path)
                    for block in _blocks(response, guard):
                        if have + len(block) > total:
                            raise IntegrityError(
                                f"{file.path}: the server sent more than the {total} bytes the Hub lists",
                                hint="Run the command again; if it persists the repo metadata is inconsistent.",
                                filename=file.path,
                            )
                        out.write(block)
                        hasher.feed(block)
                        have += len(block)
                        received += len(block)
                        if progress:
                            progress(len(block))
            except caught as exc:
                if have - attempt_start >= STREAM_CHUNK:
                    retries = _RETRIES
                if not is_transient(exc) or retries <= 0:
                    out.flush()
                    hasher.drain()
                    final = _final(exc, repo, revision, file, have)
                    if final is exc:
                        raise
                    raise final from exc
                out.flush()
                pause(_RETRIES - retries, lim)
                retries -= 1
                continue
            if have < total:
                if have - attempt_start >= STREAM_CHUNK:
                    retries = _RETRIES
                if retries <= 0:
                    out.flush()
                    hasher.drain()
                    raise HubError(
                        f"{file.path}: the download stopped at {have} of {total} bytes",
                        hint="Run the command again: forge resumes from where it stopped.",
                        filename=file.path,
                    )
                retries -= 1
        out.flush()  # no fsync (like huggingface_hub): a torn partial fails its sha256 and is re-fetched
    hasher.drain()
    return {
        "sha256": hasher.sha256.hexdigest(),
        "sha1": hasher.sha1.hexdigest() if hasher.sha1 is not None else None,
        "received": received,
        "resumed_from": resumed_from,
        "prefix_read": prefix_read,
    }


def _final(
    exc: BaseException, repo: str, revision: str, file: RemoteFile, have: int
) -> BaseException:
    """The error to raise when giving up: a HubError that says the partial file is kept."""

    if isinstance(exc, HubError):
        err: BaseException = exc
    else:
        err = convert(exc, repo=repo, revision=revision, filename=file.path) or exc
    if isinstance(err, HubError) and is_transient(exc) and have:
        err.hint = (
            err.hint or ""
        ) + f" {have:,} of {file.size:,} bytes are kept: the next run resumes from there."
    return err
