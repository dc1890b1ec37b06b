"""Read a GGUF header on the Hub without downloading the weights.

:class:`HTTPRangeSource` is a :class:`ollama_forge.gguf.ByteSource` over HTTP Range requests
(``GET /{repo}/resolve/{commit}/{file}`` with ``Range: bytes=a-b``, following the Hub's CDN
redirect, through huggingface_hub's shared HTTP session and retry helper). It fetches a first
chunk and then grows its buffer only when the parser reads past it, so a header costs its own
size plus at most one chunk. :func:`ollama_forge.hub.quants.read_remote_headers` reads a variant's headers this way and
:func:`ollama_forge.workflows.inspect.inspect_remote` builds the same report as for a local file
from them, plus ``report.remote`` (bytes fetched vs file size, requests, repo, commit, file).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import config
from ..errors import HubError
from ..gguf import read_gguf
from ._errors import hub_errors
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
)

if TYPE_CHECKING:
    from ..gguf import GGUFInfo
    from .listing import RemoteFile, RepoListing

CHUNK = 2 * 1024 * 1024  # like @huggingface/gguf
SMALL_CHUNK = 256 * 1024  # shards 2..N and projectors have small headers
MAX_HEADER_BYTES = 256 * 1024 * 1024
_ATTEMPTS = 3


class HTTPRangeSource:
    """Random-access reads of a remote file through Range requests, cached as one growing prefix."""

    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        token: str | None = None,
        size: int | None = None,
        chunk_size: int = CHUNK,
        max_bytes: int = MAX_HEADER_BYTES,
        repo: str = "",
        revision: str | None = None,
        path: str | None = None,
    ) -> None:
        self.url = url
        self.name = name or url
        self.chunk_size = chunk_size
        self.max_bytes = max_bytes
        self.bytes_fetched = 0
        self.requests = 0
        self._token = token
        self._size = size
        self._buffer = bytearray()
        self._current_url = url
        self._repo = repo
        self._revision = revision
        self._path = path or self.name

    def size(self) -> int | None:
        return self._size

    def read_at(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise ValueError("negative offset or length")
        end = offset + length
        if self._size is not None:
            end = min(end, self._size)
        if end > len(self._buffer) and (self._size is None or len(self._buffer) < self._size):
            # Grow the prefix to cover the read, plus one chunk of read-ahead.
            self._fetch(len(self._buffer), max(end, len(self._buffer) + self.chunk_size))
        return bytes(self._buffer[offset : min(end, len(self._buffer))])

    def _headers(self, url: str) -> dict[str, str]:
        from huggingface_hub.utils import build_hf_headers

        headers = build_hf_headers(token=self._token, library_name="ollama-forge")
        headers["Accept-Encoding"] = "identity"
        if not same_origin(url, self.url):
            headers.pop("authorization", None)
        return headers

    def _fetch(self, start: int, stop: int) -> None:
        if self._size is not None:
            stop = min(stop, self._size)
        if stop > self.max_bytes:
            raise HubError(
                f"{self.name}: the GGUF header needs more than {self.max_bytes} bytes; refusing to read further",
                hint="Download the file (forge pull-gguf) and inspect it locally.",
            )
        if stop <= start:
            return
        for attempt in range(_ATTEMPTS):
            try:
                self._buffer += self._get(start, stop)
                return
            except HubError as exc:
                if not is_transient(exc) or attempt == _ATTEMPTS - 1:
                    raise
                pause(attempt, limits())

    def _get(self, start: int, stop: int) -> bytearray:
        """Exactly bytes ``start..stop-1`` (fewer only at the end of the file); never reads more."""
        lim = limits()
        headers = self._headers(self._current_url)
        headers["Range"] = f"bytes={start}-{stop - 1}"
        got = bytearray()
        # Not huggingface_hub's http_stream_backoff: errors inside the body cannot be retried there
        # and its last-try error path reads an error body whole; _fetch retries instead.
        with (
            hub_errors(repo=self._repo, revision=self._revision, filename=self._path),
            stream(
                self._current_url,
                headers=headers,
                timeout=request_timeout(lim),
                what=self.name,
            ) as response,
        ):
            self.requests += 1
            raise_for_status(response, self.name)
            self._current_url = str(response.url)
            encoding = response.headers.get("Content-Encoding", "identity").lower()
            if encoding not in ("", "identity"):
                raise self._bad(
                    f"the server compressed the body ({encoding[:40]}) despite Accept-Encoding: identity"
                )
            if response.status_code == 206:
                first, last, total = _content_range(response.headers.get("Content-Range", ""))
                if first != start or last is None or last < first or last > stop - 1:
                    raise self._bad(
                        f"asked for bytes {start}-{stop - 1}, the server answered Content-Range "
                        f"{response.headers.get('Content-Range', '')[:80]!r}"
                    )
                self._check_total(total, "Content-Range total")
                if last < stop - 1 and (total is None or last != total - 1):
                    raise self._bad(
                        f"asked for bytes {start}-{stop - 1}, the server sent only {start}-{last}"
                    )
                want, skip = last + 1 - start, 0
            elif response.status_code == 200:
                # Range ignored: skip to ``start``, keep what is needed, then drop the connection.
                length = response.headers.get("Content-Length", "")
                self._check_total(
                    int(length) if length.isdigit() and len(length) <= 20 else None,
                    "Content-Length",
                )
                want, skip = stop - start, start
            else:
                raise self._bad(f"unexpected HTTP {response.status_code} answer to a Range request")
            guard = RateGuard(lim, self.name)
            for raw in guarded_raw(response, guard):
                self.bytes_fetched += len(raw)
                block = raw
                if skip:
                    cut = min(skip, len(block))
                    skip -= cut
                    block = block[cut:]
                got += block[: want - len(got)]
                if len(got) >= want:
                    break  # never read past the requested range, whatever the body's size
        if len(got) < want and (self._size is None or start + len(got) < min(stop, self._size)):
            raise self._bad(f"the body ended after {len(got)} of the {want} bytes asked for")
        return got

    def _check_total(self, total: int | None, what: str) -> None:
        if total is None:
            return
        if self._size is None:
            self._size = total
        elif total != self._size:
            raise self._bad(
                f"its {what} says the file has {total} bytes, the Hub's listing {self._size}"
            )

    def _bad(self, why: str) -> HubError:
        return HubError(
            f"{self.name}: {why}",
            hint="The file changed while forge was reading it, or a proxy/server between you and the Hub "
            "misbehaves; run the command again, and check HF_ENDPOINT if it persists.",
            filename=self._path,
        )


def _content_range(value: str) -> tuple[int | None, int | None, int | None]:
    """``bytes a-b/total`` -> (a, b, total); None for parts that are missing or not numbers."""
    spec = value.strip()
    if not spec.startswith("bytes "):
        return None, None, None
    span, _, total = spec[6:].partition("/")
    first, _, last = span.partition("-")

    def num(text: str) -> int | None:
        text = text.strip()
        return int(text) if text.isdigit() and len(text) <= 20 else None

    return num(first), num(last), num(total)


def source_for(
    listing: RepoListing, file: RemoteFile, *, chunk_size: int = CHUNK
) -> HTTPRangeSource:
    """A range source for ``file`` at the listing's commit (the token goes to the Hub only)."""
    from huggingface_hub import hf_hub_url

    url = hf_hub_url(
        listing.repo, file.path, revision=listing.commit, endpoint=config.hf_endpoint()
    )
    return HTTPRangeSource(
        url,
        name=f"{listing.repo}/{file.path}",
        token=config.hf_token(),
        size=file.size,
        chunk_size=chunk_size,
        repo=listing.repo,
        revision=listing.commit,
        path=file.path,
    )


def read_remote_info(
    listing: RepoListing, file: RemoteFile, *, chunk_size: int = CHUNK
) -> tuple[GGUFInfo, HTTPRangeSource]:
    """Parse a remote GGUF's header over Range requests."""

    source = source_for(listing, file, chunk_size=chunk_size)
    return read_gguf(source), source
