"""Register a model with Ollama the way ``ollama create`` does, through the HTTP API.

Flow: validate the name -> resolve SOURCE to a Modelfile -> find its local files -> read
``/api/version`` -> (before 0.30) merge split shards -> decide the template path -> one
SHA-256 per file, each followed at once by ``HEAD`` and, when missing, its upload -> ``POST /api/create``
(streamed; an error line inside the 200 stream is an error) -> record the registration in
forge's store only after the stream ended with ``success``.

**Digests and bytes read.** A blob URL needs the digest before the body, and Ollama has no
chunked or resumable blob API, so a file whose digest is unknown must be read twice on its
first upload (hash, then stream). forge avoids every read it can:

* a digest trusted in the store (verified against the Hub's LFS SHA-256 while downloading
  with ``forge pull-gguf``, or hashed by forge before; valid while size/mtime/inode are
  unchanged) is used as is: the two-step flow reads each file **once** (the upload);
* a merged split GGUF's digest is computed while it is written;
* ``HEAD`` first: a blob the server has is never re-sent, so re-registering the same weights
  with a new SYSTEM or TEMPLATE reads **zero** bytes of them;
* only a never-seen local file is hashed, once, and remembered for next time; its upload
  follows the hash immediately, so that second pass is served from the page cache (the file is
  read from disk once when it fits in free memory; ``benchmarks/register.py`` measures both).

``benchmarks/register.py`` measures the three cases with :data:`~ollama_forge.digests.DISK_READS`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from ..config import forge_home
from ..digests import DISK_READS, FileIdentity, sha256_file
from ..errors import OllamaError, OllamaResponseError
from ..gguf import read_gguf
from ..gguf.merge import merge_split_gguf
from ..hub.names import real_dirs
from ..modelfile import validate_parameters
from ..ollama.blobs import BlobInfo, ensure_blob
from ..ollama.cli_create import Reporter, find_ollama, ollama_create_argv, run_ollama_create
from ..ollama.client import OllamaHTTP, resolve_host
from ..ollama.names import parse_model_name
from ..ollama.versions import TemplateDecision, Version, decide_template
from ..store import Registration, Store
from .register_sources import (
    LocalFile,
    LocalFiles,
    RegistrationSource,
    check_gguf_magic,
    local_files,
    outside_files,
    refuse_outside_files,
    refuse_unexpected_instructions,
    registration_source,
)

if TYPE_CHECKING:
    from ..modelfile import Modelfile
    from ..store import Store


class PlannedRequest(BaseModel):
    method: str
    url: str
    json_body: dict[str, Any] | None = None
    body: str | None = None  # description of a raw body (file upload)
    note: str | None = None

    def render(self) -> str:
        import json

        line = f"{self.method} {self.url}"
        if self.note:
            line += f"    # {self.note}"
        if self.body:
            line += f"\n  body: {self.body}"
        if self.json_body is not None:
            line += "\n" + json.dumps(self.json_body, indent=2, ensure_ascii=False)
        return line


class RegisterResult(BaseModel):
    name: str
    host: str
    server_version: str | None = None
    source: str
    store_name: str | None = None
    dry_run: bool = False
    via: Literal["api", "cli"] = "api"
    files: list[BlobInfo] = Field(
        default_factory=list,
        description="every local file sent (or, dry run, to send), with its role",
    )
    outside_files: list[str] = Field(
        default_factory=list,
        description="files outside the model's folder / HF cache / forge's models "
        "folder, sent because allow_outside_files was given",
    )
    template: TemplateDecision
    statuses: list[str] = Field(default_factory=list)
    requests: list[PlannedRequest] = Field(default_factory=list)
    create_request: dict[str, Any] = Field(default_factory=dict)
    modelfile: str = ""
    merged_from: list[str] = Field(default_factory=list)
    bytes_hashed: int = 0
    bytes_uploaded: int = 0
    bytes_read: int = 0

    def __repr__(self) -> str:
        uploaded = sum(1 for f in self.files if f.uploaded)
        what = "dry run" if self.dry_run else f"via {self.via}"
        return (
            f"RegisterResult(name={self.name!r}, host={self.host!r}, {what}, files={len(self.files)} "
            f"({uploaded} uploaded), template={self.template.path!r}, bytes_read={self.bytes_read})"
        )

    __str__ = __repr__


def _quiet(event: str, data: dict[str, Any]) -> None:
    pass


def _merged_path(shards: list[LocalFile]) -> Path:

    ident = hashlib.sha256()
    for shard in shards:
        fid = FileIdentity.of(shard.path)
        ident.update(f"{shard.path.resolve()}|{fid.size}|{fid.mtime_ns}|{fid.inode}\n".encode())
    prefix = shards[0].key.rsplit("-", 3)[0] if shards[0].key.count("-") >= 3 else "merged"
    return forge_home() / "merged" / f"{prefix}-{ident.hexdigest()[:16]}.gguf"


def _merge(
    found: LocalFiles, store: Store, report: Reporter
) -> tuple[LocalFiles, dict[Path, str], list[str]]:
    """Replace the shards by one merged GGUF (Ollama < 0.30). Returns files, known digests, shard names."""

    shards = found.shards
    out = _merged_path(shards)
    real_dirs(forge_home(), out.parent)  # a planted `merged` link must not redirect the write
    known: dict[Path, str] = {}
    if not (out.is_file() and store.trusted_sha256(out)):
        total = sum(s.path.stat().st_size for s in shards)
        report("merge_start", {"shards": len(shards), "total": total, "path": str(out)})
        result = merge_split_gguf(
            [s.path for s in shards], out, progress=lambda n: report("merge_progress", {"bytes": n})
        )
        store.remember_sha256(out, result.sha256, source="merged")
        known[out] = result.sha256  # computed while writing: no extra read
        report("merge_done", {"path": str(out)})
    key = f"{shards[0].key.rsplit('-', 3)[0]}.gguf" if shards[0].key.count("-") >= 3 else out.name
    merged = LocalFile(path=out, role="merged", key=key)
    files = [merged] + [f for f in found.files if f.role != "shard"]
    out_files = LocalFiles(
        files=files, adapters=found.adapters, drafts=found.drafts, from_model=found.from_model
    )
    return out_files, known, [s.key for s in shards]


def _digest(
    path: Path, store: Store, known: dict[Path, str], report: Reporter
) -> tuple[str, Literal["trusted", "hashed", "merged"]]:
    if path in known:
        return known[path], "merged"
    trusted = store.trusted_sha256(path)
    if trusted:
        return trusted, "trusted"
    size = path.stat().st_size
    report("hash_start", {"path": str(path), "total": size})
    hexd = sha256_file(path, progress=lambda n: report("hash_progress", {"bytes": n}))
    report("hash_done", {"path": str(path)})
    store.remember_sha256(path, hexd, source="hashed")
    return hexd, "hashed"


def _chat_template_of(found: LocalFiles) -> tuple[str | None, str | None]:
    """(tokenizer.chat_template, general.architecture) of the main model file."""

    for f in found.files:
        if f.role in ("model", "shard", "merged"):
            info = read_gguf(f.path)
            return info.chat_template, info.architecture
    return None, None


def _create_fields(mf: Modelfile) -> dict[str, Any]:
    fields = dict(mf.to_create_request())
    for key in ("model", "name", "files", "adapters", "from", "stream"):
        fields.pop(key, None)
    return {k: v for k, v in fields.items() if v not in (None, "", [], {})}


def _absolute_modelfile(mf: Modelfile, found: LocalFiles) -> str:
    """The Modelfile text with FROM/ADAPTER as absolute paths (what the store records)."""
    copy = mf.model_copy(deep=True)
    if found.from_model is not None:
        copy.from_ = [found.from_model]
    else:
        copy.from_ = [str(f.path.absolute()) for f in found.files]
    copy.adapters = [str(f.path.absolute()) for f in found.adapters]
    copy.draft = [str(f.path.absolute()) for f in found.drafts]
    text: str = copy.render()
    return text


def apply_overrides(
    mf: Modelfile, *, system: str | None, template: str | None, parameters: dict[str, Any] | None
) -> Modelfile:
    if system is None and template is None and not parameters:
        return mf

    mf = mf.model_copy(deep=True)
    if system is not None:
        mf.system = system
    if template is not None:
        mf.template = template
    if parameters:
        merged = dict(mf.parameters)
        merged.update(validate_parameters(parameters))
        mf.parameters = merged
    return mf


def register(
    name: str,
    source: str | None = None,
    *,
    modelfile: str | Path | None = None,
    host: str | None = None,
    dry_run: bool = False,
    native_template: bool = False,
    use_cli: bool = False,
    system: str | None = None,
    template: str | None = None,
    parameters: dict[str, Any] | None = None,
    timeout: float | None = None,
    store: Store | None = None,
    reporter: Reporter | None = None,
    allow_outside_files: bool = False,
) -> RegisterResult:
    """Register ``name`` with Ollama from SOURCE (GGUF, stored short name, Modelfile) or the store.

    Before anything is read or sent: a Modelfile forge wrote from a GGUF may hold only what forge
    writes (no ADAPTER/DRAFT/LICENSE/..., no MESSAGE nobody asked for); every file to upload must
    be a GGUF and lie in the model's folder, the Modelfile's folder, the Hugging Face cache or
    forge's models folder, unless ``allow_outside_files``. The ``files`` event lists them.
    """

    report = reporter or _quiet
    model_name = parse_model_name(name)  # ModelNameError before anything else
    display = model_name.display
    store = store or Store()
    server = resolve_host(host)
    resolved = registration_source(name, source, modelfile, store)
    refuse_unexpected_instructions(resolved)
    mf = apply_overrides(
        resolved.modelfile, system=system, template=template, parameters=parameters
    )
    found = local_files(mf)
    check_gguf_magic(found)
    base_dir = getattr(mf, "base_dir", None)
    outside = outside_files(found, base_dir)
    if outside and not allow_outside_files:
        refuse_outside_files(found, base_dir)
    report(
        "files",
        {
            "files": [
                {"role": f.role, "path": str(f.path), "outside": f in outside}
                for f in found.uploads
            ]
        },
    )

    if use_cli:
        return _create_with_cli(
            display, server, resolved, mf, found, store, report, dry_run=dry_run
        )

    http = OllamaHTTP(server, **({"timeout": timeout} if timeout else {}))
    try:
        version: Version | None = None
        if not dry_run:
            version = Version(http.version())
            report("version", {"version": str(version)})
            _check_requires(mf, version, server)
        known: dict[Path, str] = {}
        merged_from: list[str] = []
        if found.shards and version is not None and not version.split_gguf:
            report(
                "info",
                {
                    "message": f"Ollama {version} cannot import split GGUFs: merging "
                    f"{len(found.shards)} shards locally first"
                },
            )
            found, known, merged_from = _merge(found, store, report)
        chat_template, arch = _chat_template_of(found) if found.files else (None, None)
        decision = decide_template(
            version,
            go_template=mf.template or None,
            chat_template=chat_template,
            renderer=getattr(mf, "renderer", None),
            parser=getattr(mf, "parser", None),
            architecture=arch,
            native_requested=native_template,
            base_model=found.from_model,
        )
        if version is None:
            decision.explanation += (
                " (dry run: the server was not asked for its version; assuming Ollama >= 0.30)"
            )
        report("template", {"decision": decision})

        reads_before = DISK_READS.bytes_read
        blobs: list[BlobInfo] = []
        bytes_hashed = bytes_uploaded = 0
        done: set[str] = set()
        for f in [*found.files, *found.adapters, *found.drafts]:
            before = DISK_READS.bytes_read
            hexd, how = _digest(f.path, store, known, report)
            bytes_hashed += DISK_READS.bytes_read - before
            blob = BlobInfo(
                key=f.key,
                path=str(f.path),
                role=f.role,
                size=f.path.stat().st_size,
                digest=f"sha256:{hexd}",
                digest_source=how,
            )
            blobs.append(blob)
            if not dry_run:
                # Upload right after hashing, file by file: the second pass over a file whose
                # digest was unknown is then served from the page cache, not the disk.
                before = DISK_READS.bytes_read
                ensure_blob(http, blob, done, report)
                bytes_uploaded += DISK_READS.bytes_read - before

        body: dict[str, Any] = {"model": display}
        if found.from_model is not None:
            body["from"] = found.from_model
        else:
            body["files"] = {b.key: b.digest for b in blobs if b.role not in ("adapter", "draft")}
        for field, role in (("adapters", "adapter"), ("draft_files", "draft")):
            mapping = {b.key: b.digest for b in blobs if b.role == role}
            if mapping:
                body[field] = mapping
        fields = _create_fields(mf)
        if not decision.send_template:
            fields.pop("template", None)
        body.update(fields)
        body["stream"] = True

        result = RegisterResult(
            name=display,
            host=server,
            server_version=str(version) if version else None,
            source=resolved.description,
            store_name=resolved.store_name,
            dry_run=dry_run,
            files=blobs,
            template=decision,
            create_request=body,
            modelfile=_absolute_modelfile(mf, found),
            merged_from=merged_from,
            bytes_hashed=bytes_hashed,
            outside_files=[str(f.path) for f in outside],
        )
        if dry_run:
            for b in blobs:
                url = http.url(f"/api/blobs/{b.digest}")
                result.requests.append(
                    PlannedRequest(method="HEAD", url=url, note="200: present, skip the upload")
                )
                result.requests.append(
                    PlannedRequest(
                        method="POST",
                        url=url,
                        body=f"<{b.size} bytes of {b.path}>",
                        note="only when HEAD answered 404",
                    )
                )
            result.requests.append(
                PlannedRequest(method="POST", url=http.url("/api/create"), json_body=body)
            )
            result.bytes_read = DISK_READS.bytes_read - reads_before
            return result

        result.bytes_uploaded = bytes_uploaded

        for part in http.create(body):
            status = str(part.get("status", ""))
            result.statuses.append(status)
            report("status", dict(part))
        if not result.statuses or result.statuses[-1] != "success":
            raise OllamaResponseError(
                f"Ollama at {server} ended the create stream without 'success' "
                f"(last status: {result.statuses[-1] if result.statuses else 'none'})",
                hint="The model was not registered; check the Ollama server log and retry.",
                host=server,
            )
    finally:
        http.close()
    result.bytes_read = DISK_READS.bytes_read - reads_before
    store_name = resolved.store_name or model_name.model
    store.add_registration(
        store_name,
        Registration(
            ollama_name=display,
            host=server,
            source=resolved.description,
            modelfile=result.modelfile,
            template_source=_template_source(resolved, decision),
        ),
    )
    result.store_name = store_name
    return result


def _check_requires(mf: Modelfile, version: Version, host: str) -> None:
    """REQUIRES <semver>: refuse before any upload when the server is older."""
    requires = getattr(mf, "requires", None)
    if not requires or version.is_dev:
        return
    needed = Version(requires)
    if version < needed:
        raise OllamaError(
            f"The Modelfile REQUIRES Ollama {requires}, but the server at {host} runs {version}",
            hint="Upgrade Ollama (https://ollama.com/download) or remove the REQUIRES line.",
            host=host,
            requires=requires,
            server_version=str(version),
        )


def _template_source(resolved: RegistrationSource, decision: TemplateDecision) -> str | None:
    if decision.path in ("native_jinja", "native_default") and not decision.send_template:
        return "native"
    return resolved.template_source


def _create_with_cli(
    name: str,
    host: str,
    resolved: RegistrationSource,
    mf: Modelfile,
    found: LocalFiles,
    store: Store,
    report: Reporter,
    *,
    dry_run: bool = False,
) -> RegisterResult:
    """``--cli``: ``ollama create`` on the absolute Modelfile; recorded only when it exits 0."""

    exe = find_ollama()
    text = _absolute_modelfile(mf, found)
    decision = decide_template(None, go_template=mf.template or None, chat_template=None)
    decision.explanation = (
        "ollama create decides the template itself (forge did not query the server)."
    )
    result = RegisterResult(
        name=name,
        host=host,
        source=resolved.description,
        store_name=resolved.store_name,
        dry_run=dry_run,
        via="cli",
        template=decision,
        modelfile=text,
    )
    if dry_run:
        result.requests.append(
            PlannedRequest(
                method="EXEC",
                url=" ".join(ollama_create_argv(exe, name, "<Modelfile>")),
                body=text,
                note=f"OLLAMA_HOST={host}",
            )
        )
        return result
    result.statuses = run_ollama_create(exe, name, host, text, report)
    store_name = resolved.store_name or name.split("/")[-1].split(":")[0]
    store.add_registration(
        store_name,
        Registration(
            ollama_name=name,
            host=host,
            source=resolved.description,
            modelfile=text,
            template_source=resolved.template_source,
        ),
    )
    result.store_name = store_name
    return result
