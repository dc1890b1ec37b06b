"""huggingface_hub's HTTP stack, detected at run time, and forge's transfer limits.

huggingface_hub 1.x talks through ``httpx``, 2.x through ``httpx2`` (a fork with the same API but
its own exception classes). forge never imports either by name: :func:`http_module` asks
huggingface_hub for its shared client (``get_session()``) and takes the package that client class
comes from, so exception checks, timeouts and response objects always match the stack in use.

Limits (read at call time, see :func:`limits`):

* ``FORGE_HUB_TIMEOUT`` (seconds, default 30): connect and read timeout of every Hub request, and
  the period over which the minimum rate is measured.
* ``FORGE_HUB_MIN_RATE`` (bytes/s, default 1024; 0 turns it off): a body that delivers less than
  this over a whole period is treated like a stalled connection (downloads resume from there).

Every response body forge reads itself is bounded (:func:`read_bounded`).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from ..errors import HubError, UsageError

DEFAULT_TIMEOUT = 30.0
DEFAULT_MIN_RATE = 1024.0
MAX_REDIRECTS = 10
MAX_JSON_BYTES = 32 * 1024 * 1024  # one listing page / model info answer
MAX_ERROR_BYTES = 64 * 1024  # enough for any error message the Hub sends
RETRY_STATUSES = (
    408,
    429,
    500,
    502,
    503,
    504,
)  # worth another try (as huggingface_hub retries them)


class StalledTransfer(Exception):
    """A body arrived slower than the minimum rate: transient, like a read timeout."""


@dataclass(frozen=True)
class Limits:
    timeout: float
    min_rate: float


def _env_number(name: str, default: float, *, allow_zero: bool) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise UsageError(
            f"Invalid {name}={raw!r}",
            hint=f"{name} takes a {'non-negative' if allow_zero else 'positive'} number"
            f" (default {default:g}), e.g. {name}={default:g}.",
            variable=name,
        )
    return value


def limits() -> Limits:
    """The transfer limits from the environment (validated; a bad value is a usage error)."""
    return Limits(
        timeout=_env_number("FORGE_HUB_TIMEOUT", DEFAULT_TIMEOUT, allow_zero=False),
        min_rate=_env_number("FORGE_HUB_MIN_RATE", DEFAULT_MIN_RATE, allow_zero=True),
    )


@functools.lru_cache(maxsize=1)
def http_module() -> ModuleType:
    """The HTTP package huggingface_hub's shared client comes from (``httpx`` or ``httpx2``)."""
    from huggingface_hub.utils import get_session

    # Walk the MRO: a user's client factory may return a subclass defined elsewhere.
    for cls in type(get_session()).__mro__:
        root = cls.__module__.partition(".")[0]
        module = sys.modules.get(root) or importlib.import_module(root)
        if all(hasattr(module, attr) for attr in ("TransportError", "Timeout", "Response")):
            return module
    raise RuntimeError(
        f"unsupported huggingface_hub HTTP client {type(get_session())!r}"
    )  # pragma: no cover


def transport_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the connection failed (retry / resume), whatever the stack."""
    return (http_module().TransportError, StalledTransfer)


def is_transient(exc: BaseException) -> bool:
    """A transport failure (directly or as the cause of a converted HubError), or a busy server."""
    errors = transport_errors()
    if isinstance(exc, errors) or isinstance(exc.__cause__, errors):
        return True
    return isinstance(exc, HubError) and exc.status in RETRY_STATUSES


def pause(attempt: int, lim: Limits) -> None:
    """Wait before retry ``attempt`` (0-based): 1, 2, 4, 8, 8 s, never longer than the timeout."""
    time.sleep(min(2.0**attempt, 8.0, lim.timeout))


def raise_for_status(response: Any, what: str) -> None:
    """huggingface_hub's error mapping for a streamed answer, reading at most MAX_ERROR_BYTES of it.

    (``hf_raise_for_status`` itself would ``read()`` a streamed error body whole.)
    """
    if response.status_code < 400:
        return
    from huggingface_hub.utils import hf_raise_for_status

    body = read_bounded(response, MAX_ERROR_BYTES, what, truncate=True)
    kept = {
        k: v
        for k, v in response.headers.items()
        if k.lower() not in ("content-length", "content-encoding")
    }
    hf_raise_for_status(
        http_module().Response(
            response.status_code, headers=kept, content=body, request=response.request
        )
    )


def request_timeout(lim: Limits | None = None) -> Any:
    """A timeout object of the detected stack: connect/read/write/pool all bounded."""
    lim = lim or limits()
    return http_module().Timeout(lim.timeout)


class RateGuard:
    """Raises StalledTransfer when fewer than ``min_rate * period`` bytes arrive in a ``period``."""

    def __init__(self, lim: Limits, what: str) -> None:
        self.min_rate = lim.min_rate
        self.period = lim.timeout
        self.what = what
        self._start = time.monotonic()
        self._count = 0

    def feed(self, n: int) -> None:
        if not self.min_rate:
            return
        self._count += n
        now = time.monotonic()
        elapsed = now - self._start
        if elapsed >= self.period:
            if self._count < self.min_rate * elapsed:
                raise StalledTransfer(
                    f"{self.what}: {self._count} bytes in {elapsed:.1f} s, below the minimum rate of "
                    f"{self.min_rate:g} bytes/s (FORGE_HUB_MIN_RATE)"
                )
            self._start, self._count = now, 0


def guarded_raw(response: Any, guard: RateGuard) -> Iterator[bytes]:
    """``response.iter_raw()`` with every network chunk counted by the rate guard."""
    for raw in response.iter_raw():
        guard.feed(len(raw))
        yield raw


def read_bounded(
    response: Any, limit: int, what: str, *, truncate: bool = False, lim: Limits | None = None
) -> bytes:
    """The (decoded) body, at most ``limit`` bytes; more is an error unless ``truncate``."""
    length = response.headers.get("Content-Length", "")
    if not truncate and length.isdigit() and int(length) > limit:
        raise _too_big(what, limit)
    guard = RateGuard(lim or limits(), what)
    out = bytearray()
    for block in response.iter_bytes():
        guard.feed(len(block))
        out += block
        if len(out) > limit:
            if truncate:
                return bytes(out[:limit])
            raise _too_big(what, limit)
    return bytes(out)


def _too_big(what: str, limit: int) -> HubError:
    return HubError(
        f"{what}: the answer is larger than {limit:,} bytes; refusing to read it",
        hint="HF_ENDPOINT must point at a Hugging Face Hub compatible server; check it and any proxy.",
        limit=limit,
    )


@contextlib.contextmanager
def stream(
    url: str,
    *,
    headers: dict[str, str],
    timeout: Any,
    params: dict[str, str] | None = None,
    what: str,
) -> Iterator[Any]:
    """GET ``url`` through huggingface_hub's session, following redirects without reading their bodies.

    (The client's own redirect following reads every 3xx body whole, whatever its size.) The
    stack drops ``Authorization`` when a redirect leaves the origin, as huggingface_hub relies on.
    """
    from huggingface_hub.utils import get_session

    client = get_session()
    request = client.build_request("GET", url, params=params, headers=headers, timeout=timeout)
    for _ in range(MAX_REDIRECTS + 1):
        response = client.send(request, stream=True, follow_redirects=False)
        try:
            following = getattr(response, "next_request", None)
            if following is None:
                if response.has_redirect_location:
                    raise HubError(
                        f"{what}: the server redirected to an invalid location",
                        hint="HF_ENDPOINT must point at a Hugging Face Hub compatible server.",
                    )
                yield response
                return
        finally:
            response.close()
        request = following
    raise HubError(
        f"{what}: more than {MAX_REDIRECTS} redirects",
        hint="HF_ENDPOINT must point at a Hugging Face Hub compatible server; check proxies.",
    )


def get_json(
    url: str,
    *,
    headers: dict[str, str],
    what: str,
    params: dict[str, str] | None = None,
    limit: int = MAX_JSON_BYTES,
) -> tuple[Any, str | None]:
    """GET a JSON answer through huggingface_hub's session: bounded body, timeouts, Hub error mapping.

    Returns the decoded JSON and the ``Link: <...>; rel="next"`` URL (or None).
    Non-2xx answers raise huggingface_hub's own exceptions (``hf_raise_for_status``), which the
    caller's ``hub_errors`` block converts.
    """
    lim = limits()
    with stream(
        url, params=params, headers=headers, timeout=request_timeout(lim), what=what
    ) as response:
        raise_for_status(response, what)
        if response.status_code != 200:
            raise HubError(
                f"{what}: unexpected HTTP {response.status_code} answer",
                hint="HF_ENDPOINT must point at a Hugging Face Hub compatible server.",
            )
        body = read_bounded(response, limit, what, lim=lim)
        next_url = response.links.get("next", {}).get("url")
    try:
        return json.loads(body), next_url
    except (ValueError, RecursionError) as exc:
        raise HubError(
            f"{what}: the Hub's answer is not valid JSON ({type(exc).__name__})",
            hint="HF_ENDPOINT must point at a Hugging Face Hub compatible server; retry later.",
        ) from exc


def same_origin(a: str, b: str) -> bool:
    sa, sb = urlsplit(a), urlsplit(b)
    try:
        return (sa.scheme, sa.hostname, sa.port) == (sb.scheme, sb.hostname, sb.port)
    except ValueError:  # a malformed port in an untrusted URL
        return False
