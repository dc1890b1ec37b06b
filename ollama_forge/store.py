"""forge's local store: what was pulled, registered, and which file digests are trusted.

One JSON file, ``$FORGE_HOME/store.json``, written atomically (temp file + rename)
under an advisory lock so concurrent forge processes never corrupt it.

* ``models``: short name -> :class:`StoredModel` (repo, revision, files with sha256/size,
  quant, time, the Modelfile written for it, Ollama registrations).
* ``digests``: absolute path -> :class:`TrustedDigest`. A digest is trusted only while the
  file's size, mtime and inode are unchanged, so re-registering the same weights reads
  zero bytes of them.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import operator
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from .config import forge_home
from .digests import FileIdentity
from .errors import ModelNotFoundError, StoreError, UsageError

STORE_VERSION = 1
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$")


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def validate_short_name(name: str) -> str:
    """Short names double as folder names under models/: keep them safe."""
    if not _NAME_RE.match(name or "") or name in (".", ".."):
        raise UsageError(
            f"Invalid model name {name!r}",
            hint="Use 1-80 characters: letters, digits, '_', '.', '-' (not starting with '.' or '-').",
        )
    return name


class StoredFile(BaseModel):
    role: Literal["model", "shard", "projector", "adapter", "other"] = "model"
    path: str  # absolute local path (in models/<name>/)
    repo_path: str | None = None  # file name inside the Hub repo
    size: int
    sha256: str | None = None


class Registration(BaseModel):
    ollama_name: str
    host: str
    source: str
    modelfile: str  # the Modelfile text that was registered
    template_source: str | None = None  # "family:<name>", "synthesized", "native", "user"
    registered_at: str = Field(default_factory=utcnow)


class StoredModel(BaseModel):
    name: str
    repo: str | None = None
    revision: str | None = None  # commit sha
    quant: str | None = None
    files: list[StoredFile] = Field(default_factory=list)
    pulled_at: str = Field(default_factory=utcnow)
    modelfile_path: str | None = None
    registrations: list[Registration] = Field(default_factory=list)

    @property
    def model_files(self) -> list[StoredFile]:
        return [f for f in self.files if f.role in ("model", "shard")]

    @property
    def entry_path(self) -> Path:
        """The GGUF to open first (shard 1 of a split model)."""
        files = sorted(self.model_files, key=lambda f: f.path)
        if not files:
            raise StoreError(f"Stored model {self.name!r} has no model file")
        return Path(files[0].path)

    @property
    def projector_path(self) -> Path | None:
        for f in self.files:
            if f.role == "projector":
                return Path(f.path)
        return None


class TrustedDigest(BaseModel):
    sha256: str
    size: int
    mtime_ns: int
    inode: int
    device: int
    source: str = "hashed"  # "hub-verified" | "hashed"


class SavedModelfile(BaseModel):
    """A Modelfile forge planned and saved: where its TEMPLATE came from, for the exact text written."""

    sha256: str = Field(description="sha256 of the text written; an edited file no longer matches")
    template_source: str | None = None  # "family:<name>", "synthesized", "native", "plain"
    template_path: str | None = None  # "go_template", "native_jinja"
    store_name: str | None = None
    saved_at: str = Field(default_factory=utcnow)


#: saved-Modelfile records kept at most (the oldest whose file is gone are dropped first)
MAX_SAVED_MODELFILES = 500


class StoreData(BaseModel):
    version: int = STORE_VERSION
    models: dict[str, StoredModel] = Field(default_factory=dict)
    digests: dict[str, TrustedDigest] = Field(default_factory=dict)
    modelfiles: dict[str, SavedModelfile] = Field(
        default_factory=dict, description="real path of a saved Modelfile -> its record"
    )


class Store:
    """The store at ``root`` (default: ``$FORGE_HOME``), read fresh on every call."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else forge_home()

    @property
    def path(self) -> Path:
        return self.root / "store.json"

    # --- low level ---------------------------------------------------------------------
    def load(self) -> StoreData:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return StoreData()
        except OSError as exc:
            raise StoreError(f"Cannot read forge store {self.path}: {exc}") from exc
        try:
            data = StoreData.model_validate(json.loads(raw))
        except (ValueError, TypeError) as exc:
            raise StoreError(
                f"forge store {self.path} is corrupt: {exc}",
                hint=f"Move it aside (mv {self.path} {self.path}.bak); forge starts a new one.",
            ) from exc
        return data

    def _save(self, data: StoreData) -> None:
        text = data.model_dump_json(indent=2)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".store.", suffix=".tmp", dir=self.root)
        except OSError as exc:
            raise self._write_error(exc) from exc
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(exc, OSError):
                raise self._write_error(exc) from exc  # the old store.json is untouched
            raise

    def _write_error(self, exc: OSError) -> StoreError:
        """A clear error for a store that cannot be written (full disk, read-only, permissions)."""
        reason = exc.strerror or str(exc)
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            hint = f"Free some space on the disk holding {self.root}, or set FORGE_HOME to a folder on another disk."
        elif exc.errno == errno.ELOOP:
            hint = (
                f"{self.root / 'store.lock'} is a symbolic link; remove it (forge creates its own)."
            )
        else:
            hint = f"Make {self.root} writable, or set FORGE_HOME to a folder you can write."
        return StoreError(
            f"Cannot write forge's store in {self.root}: {reason}",
            hint=hint,
            path=str(self.root),
            errno=exc.errno,
        )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[StoreData]:
        """Lock, load, let the caller mutate, save atomically."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            # O_NOFOLLOW: a link planted as store.lock must not make forge create or open its target.
            fd = os.open(
                self.root / "store.lock",
                os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0),
                0o600,
            )
        except OSError as exc:
            raise self._write_error(exc) from exc
        with os.fdopen(fd, "a+") as lock:
            try:
                import fcntl

                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            except ImportError:  # pragma: no cover - Windows: best effort
                pass
            data = self.load()
            yield data
            self._save(data)

    # --- models -----------------------------------------------------------------------
    def list(self) -> list[StoredModel]:
        return sorted(self.load().models.values(), key=lambda m: m.name)

    def find(self, name: str) -> StoredModel | None:
        return self.load().models.get(name)

    def get(self, name: str) -> StoredModel:
        model = self.find(name)
        if model is None:
            known = ", ".join(sorted(self.load().models)) or "none"
            raise ModelNotFoundError.of(
                name,
                f"a model in forge's store {self.path}",
                hint=f"Pull it first: forge pull-gguf owner/repo --name {name}  (known: {known})",
                name=name,
            )
        return model

    def put(self, model: StoredModel) -> None:
        validate_short_name(model.name)
        with self.transaction() as data:
            data.models[model.name] = model

    def remove(self, name: str) -> bool:
        with self.transaction() as data:
            return data.models.pop(name, None) is not None

    def forget(
        self, name: str, same_model: Callable[[str, str], bool] = operator.eq
    ) -> tuple[bool, int]:
        """Drop ``name`` from the store without asking Ollama (``forge rm --store-only``).

        Removes the stored model of that name and every record of an Ollama registration of
        that name (any host; ``same_model`` compares two names, e.g. Ollama's name rules); files on
        disk stay. Returns (stored model removed, registration
        records removed); a name that is in neither is a :class:`ModelNotFoundError`.
        """

        with self.transaction() as data:
            entry = data.models.pop(name, None) is not None
            dropped = 0
            for model in data.models.values():
                keep = [r for r in model.registrations if not same_model(r.ollama_name, name)]
                dropped += len(model.registrations) - len(keep)
                model.registrations = keep
        if not entry and not dropped:
            raise ModelNotFoundError.of(
                name,
                f"a model or an Ollama registration in forge's store {self.path}",
                hint="`forge list` shows the store's models next to Ollama's.",
                name=name,
            )
        return entry, dropped

    def add_registration(self, name: str, registration: Registration) -> None:
        with self.transaction() as data:
            model = data.models.get(name)
            if model is None:
                model = StoredModel(name=name)
                data.models[name] = model
            model.registrations.append(registration)

    # --- saved Modelfiles --------------------------------------------------------------
    def record_modelfile(
        self,
        path: str | os.PathLike[str],
        text: str,
        *,
        template_source: str | None,
        template_path: str | None = None,
        store_name: str | None = None,
    ) -> SavedModelfile:
        """Remember that forge wrote ``text`` at ``path`` (and, for a stored model, that it is its Modelfile)."""
        key = str(Path(path).resolve())
        record = SavedModelfile(
            sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            template_source=template_source,
            template_path=template_path,
            store_name=store_name,
        )
        with self.transaction() as data:
            data.modelfiles.pop(key, None)
            data.modelfiles[key] = record
            if len(data.modelfiles) > MAX_SAVED_MODELFILES:
                gone = [k for k in data.modelfiles if not Path(k).is_file()]
                for k in (gone + list(data.modelfiles))[
                    : len(data.modelfiles) - MAX_SAVED_MODELFILES
                ]:
                    data.modelfiles.pop(k, None)
            if store_name is not None and store_name in data.models:
                data.models[store_name].modelfile_path = str(Path(path).absolute())
        return record

    def saved_modelfile(self, path: str | os.PathLike[str], text: str) -> SavedModelfile | None:
        """The record of the Modelfile forge saved at ``path``, if ``text`` is still what it wrote."""
        record = self.load().modelfiles.get(str(Path(path).resolve()))
        if record is None or record.sha256 != hashlib.sha256(text.encode("utf-8")).hexdigest():
            return None
        return record

    # --- trusted digests --------------------------------------------------------------
    def trusted_sha256(self, path: str | os.PathLike[str]) -> str | None:
        """The recorded sha256 of ``path`` if the file is unchanged since, else None."""
        key = str(Path(path).resolve())
        record = self.load().digests.get(key)
        if record is None:
            return None
        try:
            ident = FileIdentity.of(key)
        except OSError:
            return None
        if (ident.size, ident.mtime_ns, ident.inode, ident.device) != (
            record.size,
            record.mtime_ns,
            record.inode,
            record.device,
        ):
            return None
        return record.sha256

    def remember_sha256(
        self, path: str | os.PathLike[str], sha256: str, *, source: str = "hashed"
    ) -> None:
        key = str(Path(path).resolve())
        ident = FileIdentity.of(key)
        with self.transaction() as data:
            data.digests[key] = TrustedDigest(
                sha256=sha256,
                size=ident.size,
                mtime_ns=ident.mtime_ns,
                inode=ident.inode,
                device=ident.device,
                source=source,
            )
