"""A small HTTP/1.1 transport over the standard library for :class:`~.client.OllamaHTTP`.

forge talks to one Ollama server with a handful of plain requests (version, blob HEAD/POST,
create, show, ps, tags, chat). ``http.client`` does that without importing httpx (its import
and SSL setup were a third of ``forge register``'s own time before the first ``/api/create``
byte). Failures surface as the standard exceptions (``TimeoutError``, ``ConnectionError``,
``http.client.HTTPException``, ``OSError``); :func:`.client.convert_exception` turns them into
forge's Ollama errors at the one choke point.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

#: the size of each read from a response
READ_SIZE = 64 * 1024


class ConnectFailed(ConnectionError):
    """The TCP/TLS connection could not be opened (nothing was sent)."""


class Response:
    """A response being read; iterate :meth:`iter_bytes`, then :meth:`close` (or use ``with``)."""

    def __init__(self, conn: http.client.HTTPConnection, raw: http.client.HTTPResponse) -> None:
        self._conn = conn
        self._raw = raw
        self.status = raw.status
        self.headers = raw.headers

    def iter_bytes(self) -> Iterator[bytes]:
        while True:
            block = (
                self._raw.read1(READ_SIZE)
                if hasattr(self._raw, "read1")
                else self._raw.read(READ_SIZE)
            )
            if not block:
                return
            yield block

    def close(self) -> None:
        self._raw.close()
        self._conn.close()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Transport:
    """Requests to one base URL (``http(s)://host:port[/prefix]``), a new connection each."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        split = urlsplit(base_url)
        self.https = split.scheme == "https"
        self.host = split.hostname or "127.0.0.1"
        self.port = split.port or (443 if self.https else 80)
        self.prefix = split.path.rstrip("/")
        self.headers = headers

    def _connect(self, connect_timeout: float) -> http.client.HTTPConnection:
        if self.https:
            import ssl

            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self.host, self.port, timeout=connect_timeout, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=connect_timeout)
        try:
            conn.connect()
        except OSError as exc:
            conn.close()
            raise ConnectFailed(f"{type(exc).__name__}: {exc}") from exc
        return conn

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | Iterable[bytes] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float,
        connect_timeout: float,
    ) -> Response:
        """Send the request; the response's status and headers are read, its body is not.

        ``timeout`` bounds every later socket operation (each send and each read).
        """
        conn = self._connect(connect_timeout)
        try:
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            conn.request(
                method, self.prefix + path, body=body, headers={**self.headers, **(headers or {})}
            )
            raw = conn.getresponse()
        except BaseException:
            conn.close()
            raise
        return Response(conn, raw)
