"""The one choke point where huggingface_hub / httpx exceptions become ForgeErrors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..errors import (
    EntryNotFoundError,
    ForgeError,
    GatedRepoError,
    HubError,
    OfflineError,
    RepoNotFoundError,
    RevisionNotFoundError,
)


def convert(exc: BaseException, *, repo: str, revision: str | None = None, filename: str | None = None) -> ForgeError | None:
    """The ForgeError for a huggingface_hub/httpx exception, or None if it is not a transport error."""
    from huggingface_hub import errors as hf_errors

    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx is a dependency of huggingface_hub
        httpx = None  # type: ignore[assignment]

    rev = revision or "main"
    page = f"https://huggingface.co/{repo}"
    what = f"{repo}/{filename}" if filename else repo
    fields = {"repo": repo, "revision": rev, **({"filename": filename} if filename else {})}
    if isinstance(exc, hf_errors.GatedRepoError):
        return _gated(exc, repo, page, fields)
    if isinstance(exc, hf_errors.RevisionNotFoundError):
        return RevisionNotFoundError(
            f"Revision {rev!r} does not exist in {repo}",
            hint=f"Use a branch, tag or commit listed at {page}/tree/main, e.g. {repo}@main.",
            **fields,
        )
    if isinstance(exc, hf_errors.RemoteEntryNotFoundError):
        return EntryNotFoundError(
            f"{what} does not exist at revision {rev!r}",
            hint=f"List what the repo has: forge quants {repo}",
            **fields,
        )
    if isinstance(exc, hf_errors.RepositoryNotFoundError):
        return RepoNotFoundError(
            f"Repository {repo} was not found on the Hub",
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
    if httpx is not None and isinstance(exc, httpx.HTTPError):
        return HubError(
            f"Cannot reach the Hub for {what}: {type(exc).__name__}: {_first_line(exc)}",
            hint="Check your network and HF_ENDPOINT; set HF_HUB_OFFLINE=1 to use only the local cache.",
            **fields,
        )
    return None


@contextlib.contextmanager
def hub_errors(*, repo: str, revision: str | None = None, filename: str | None = None) -> Iterator[None]:
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
