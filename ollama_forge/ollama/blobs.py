"""Blobs on an Ollama server: each local file forge sends, checked by digest and uploaded once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

if TYPE_CHECKING:
    from .cli_create import Reporter
    from .client import OllamaHTTP


class BlobInfo(BaseModel):
    key: str
    path: str
    role: Literal["model", "shard", "projector", "adapter", "draft", "merged"]
    size: int
    digest: str
    digest_source: Literal["trusted", "hashed", "merged"]
    uploaded: bool | None = None  # None: not checked (dry run)
    http_status: int | None = None


def ensure_blob(http: OllamaHTTP, blob: BlobInfo, done: set[str], report: Reporter) -> None:
    """HEAD the blob; upload it only when the server lacks it (each digest once per run)."""
    if blob.digest in done:
        blob.uploaded = False
        return
    done.add(blob.digest)
    if http.blob_exists(blob.digest):
        blob.uploaded = False
        report("blob_present", {"key": blob.key, "digest": blob.digest})
        return
    report("upload_start", {"key": blob.key, "total": blob.size})
    blob.http_status = http.upload_blob(
        blob.digest, blob.path, progress=lambda n: report("upload_progress", {"bytes": n})
    )
    blob.uploaded = True
    report("upload_done", {"key": blob.key})
