"""The one choke point where huggingface_hub and HTTP-stack exceptions become ForgeErrors.

The HTTP stack is whatever huggingface_hub uses (``httpx`` for 1.x, ``httpx2`` for 2.x), detected
by :func:`._http.http_module`; no HTTP package is imported by name here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .. import config
from ..errors import (
    EntryNotFoundError,
    ForgeError,
    GatedRepoError,
    HubError,
    OfflineError,
    RepoNotFoundError,
    RevisionNotFoundError,
)
from ._http import StalledTransfer, http_module


def convert(
    exc: BaseException, *, repo: str, revision: str | None = None, filename: str | None = None
) -> ForgeError | None:
    """The ForgeError for a huggingface_hub/HTTP exception, or None if it is not a transport error."""
    from huggingface_hub import errors as hf_errors

    rev = revision or "main"
    page = f"https://huggingface.co/{repo}"
    what = f"{repo}/{filename}" if filename else repo
    fields = {"repo": repo, "revision": rev, **({"filename": filename} if filename else {})}
    if isinstance(exc, hf_errors.GatedRepoError):
        return _gated(exc, repo, page, fields)
    if isinstance(exc, hf_errors.RevisionNotFoundError):
        return RevisionNotFoundError.of(
            rev,
            f"a branch, tag or commit of {repo} on the Hub",
            hint=f"Use a branch, tag or commit listed at {page}/tree/main, e.g. {repo}@main.",
            **fields,
        )
    if isinstance(exc, hf_errors.RemoteEntryNotFoundError):
        return EntryNotFoundError.of(
            what,
            f"a file of {repo} at revision {rev!r} on the Hub",
            hint=f"List what the repo has: forge quants {repo}",
            **fields,
        )
    if isinstance(exc, hf_errors.RepositoryNotFoundError):
        return RepoNotFoundError.of(
            repo,
            "a repository on the Hub",
            hint="Check the spelling (owner/name). Private repos also answer 'not found' without a "
            "token: set HF_TOKEN if it is yours.",
            **fields,
        )
    if _status(exc) in (401, 403):
        return _gated(exc, repo, page, fields)
    if isinstance(exc, (hf_errors.OfflineModeIsEnabled, hf_errors.LocalEntryNotFoundError)):
        return OfflineError(
            f"{what} is not in the local Hugging Face cache and the Hub cannot be reached (offline)",
            hint="Unset HF_HUB_OFFLINE (or connect) and pull it once: forge pull-gguf " + repo,
            **fields,
        )
    if isinstance(exc, hf_errors.HfHubHTTPError):
        return HubError(
            f"The Hub answered an error for {what}: {_first_line(exc)}",
            hint="Retry later; if it persists check HF_ENDPOINT and your network/proxy settings.",
            status=_status(exc),
            **fields,
        )
    if isinstance(exc, hf_errors.FileMetadataError):
        return HubError(
            f"{what}: {_first_line(exc)}",
            hint="HF_ENDPOINT must point at a Hugging Face Hub compatible server.",
            **fields,
        )
    return _transport(exc, what, fields)


def _transport(exc: BaseException, what: str, fields: dict[str, str]) -> ForgeError | None:
    """Network failures (refused, DNS, TLS, timeouts, cut connections) of the detected HTTP stack."""

    mod = http_module()
    if not isinstance(exc, (mod.HTTPError, mod.InvalidURL, StalledTransfer)):
        return None
    endpoint = config.hf_endpoint()
    where = _origin(exc) or endpoint
    offline = "set HF_HUB_OFFLINE=1 to use models already in the local cache"
    reason = _first_line(exc)
    if isinstance(exc, (mod.TimeoutException, StalledTransfer)):
        kind = "timeout"
        message = (
            f"The Hub at {where} did not answer in time for {what} ({reason or type(exc).__name__})"
        )
        hint = (
            f"Check your network (or proxy) and HF_ENDPOINT ({endpoint}); on a slow link raise "
            f"FORGE_HUB_TIMEOUT (seconds) or lower FORGE_HUB_MIN_RATE (bytes/s); or {offline}."
        )
    elif isinstance(exc, mod.ConnectError):
        kind = "unreachable"
        message = f"The Hub is unreachable at {where} ({reason}) for {what}"
        hint = f"Check your network connection and HF_ENDPOINT ({endpoint}), or {offline}."
    elif isinstance(exc, (mod.NetworkError, mod.RemoteProtocolError)):
        kind = "connection-lost"
        message = f"The connection to the Hub at {where} broke while reading {what} ({reason})"
        hint = (
            f"Run the command again (downloads resume where they stopped); if it keeps failing check "
            f"your network, proxy and HF_ENDPOINT ({endpoint})."
        )
    else:  # proxy errors, unsupported protocol, bad URL, other HTTP-level failures
        kind = "transport"
        message = f"Cannot talk to the Hub at {where} for {what}: {type(exc).__name__}: {reason}"
        hint = f"Check HF_ENDPOINT ({endpoint}) and your proxy settings, or {offline}."
    return HubError(message, hint=hint, reason=kind, endpoint=endpoint, **fields)


def _origin(exc: BaseException) -> str | None:
    """scheme://host:port of the request that failed (``exc.request`` raises when unset)."""
    try:
        url = exc.request.url  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):
        return None
    try:
        port = f":{url.port}" if url.port else ""
        return f"{url.scheme}://{url.host}{port}"
    except (AttributeError, ValueError):
        return None


@contextlib.contextmanager
def hub_errors(
    *, repo: str, revision: str | None = None, filename: str | None = None
) -> Iterator[None]:
    """Convert transport exceptions raised inside the block; ForgeErrors pass through."""
    try:
        yield
    except ForgeError:
        raise
    except Exception as exc:
        converted = convert(exc, repo=repo, revision=revision, filename=filename)
        if converted is None:
            raise
        raise converted from exc


def _gated(exc: BaseException, repo: str, page: str, fields: dict[str, str]) -> GatedRepoError:
    return GatedRepoError(
        f"Access to {repo} was refused (HTTP {_status(exc) or 401}): the repo is gated or private",
        hint=f"Accept the model's terms at {page} and set HF_TOKEN to a token that has access "
        "(https://huggingface.co/settings/tokens).",
        **fields,
    )


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
