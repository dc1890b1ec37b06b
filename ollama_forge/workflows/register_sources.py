"""What ``forge register NAME [SOURCE] [-f MODELFILE]`` registers.

SOURCE is anything :func:`~.targets.resolve_target` takes for registration: a local GGUF, a
Modelfile (or a folder holding one), or a pulled model's short name (forge's store); without
SOURCE, NAME itself is looked up in the store (``forge pull-gguf … --name m`` then
``forge register m``). The result is a :class:`RegistrationSource`: a Modelfile plus where it
came from and where its TEMPLATE came from, and the local files its FROM/ADAPTER lines point at
(:func:`local_files`).

Where a TEMPLATE came from is known, never guessed: the planner says so for a Modelfile planned
in this call, the store's record of a Modelfile forge saved says so while the file still holds the
text forge wrote (:meth:`~ollama_forge.store.Store.saved_modelfile`), and anything else is the
user's (``"user"``). Comment lines are never read for it: a model's name can be written into them.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..config import forge_home, hf_hub_cache, models_dir
from ..errors import ForgeWarning, ModelfileError, ModelNotFoundError, NotGGUFError, UsageError
from ..fidelity.builtin_renderers import allowlisted_pair
from ..gguf import is_gguf_file, read_gguf
from ..gguf.split import expand_shards, parse_shard_name
from ..modelfile import Modelfile, parse_modelfile
from ..modelfile.paths import expand_path, looks_like_path
from ..modelfile.provenance import FORGE_MARKER, is_forge_written, unexpected_instructions
from ..store import Store
from .plan import plan_modelfile
from .targets import Target, check_file_name, resolve_target, stored_target

SourceKind = Literal["gguf", "store", "modelfile", "registration"]


class RegistrationSource(BaseModel):
    """The Modelfile ``forge register`` sends, and where it and its TEMPLATE came from."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kind: SourceKind
    description: str
    store_name: str | None = None
    modelfile: Modelfile
    template_source: str | None = Field(
        default=None,
        description="'family:<name>', 'synthesized', 'native', 'plain' (forge's) or 'user'",
    )
    planned: bool = Field(
        default=False, description="the Modelfile was planned by forge from a GGUF in this call"
    )


class LocalFile(BaseModel):
    path: Path
    role: Literal["model", "shard", "projector", "adapter", "draft", "merged"]
    key: str  # name in the create request's files/adapters map


class LocalFiles(BaseModel):
    files: list[LocalFile] = Field(default_factory=list)
    adapters: list[LocalFile] = Field(default_factory=list)
    drafts: list[LocalFile] = Field(default_factory=list)
    from_model: str | None = None  # FROM <existing Ollama model>

    @property
    def shards(self) -> list[LocalFile]:
        return [f for f in self.files if f.role == "shard"]

    @property
    def uploads(self) -> list[LocalFile]:
        """Every local file that would be sent to the server, in upload order."""
        return [*self.files, *self.adapters, *self.drafts]


def _saved_template_source(path: Path, store: Store) -> str:
    """The store's record of a Modelfile forge saved at ``path`` and left unchanged, else 'user'."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return "user"
    record = store.saved_modelfile(path, text)
    if record is None or record.template_source is None:
        return "user"
    return record.template_source


def _planned(target: Target, kind: SourceKind, description: str) -> RegistrationSource:
    result = plan_modelfile(target)
    for message in result.warnings:
        warnings.warn(message, ForgeWarning, stacklevel=3)
    return RegistrationSource(
        kind=kind,
        description=description,
        store_name=target.store_name,
        modelfile=result.modelfile,
        template_source=result.template_source,
        planned=True,
    )


def _from_modelfile(target: Target, store: Store) -> RegistrationSource:
    assert target.modelfile is not None and target.modelfile_path is not None
    return RegistrationSource(
        kind="modelfile",
        description=str(target.modelfile_path),
        modelfile=target.modelfile,
        template_source=_saved_template_source(target.modelfile_path, store),
    )


def _from_stored(target: Target, store: Store) -> RegistrationSource:
    entry = target.stored
    assert entry is not None
    name = entry.name
    if target.modelfile is not None and target.modelfile_path is not None:
        return RegistrationSource(
            kind="store",
            description=f"store:{name} ({target.modelfile_path})",
            store_name=name,
            modelfile=target.modelfile,
            template_source=_saved_template_source(target.modelfile_path, store),
        )
    if target.weights:
        return _planned(target, "store", f"store:{name} ({target.entry})")
    if entry.registrations:
        last = entry.registrations[-1]
        return RegistrationSource(
            kind="registration",
            description=last.source,
            store_name=name,
            modelfile=parse_modelfile(last.modelfile),
            template_source=last.template_source,
        )
    raise ModelNotFoundError(
        f"Stored model {name!r} has no model file, Modelfile or earlier registration",
        hint=f"Pull it again: forge pull-gguf owner/repo --name {name}",
        name=name,
    )


def _short_candidates(name: str) -> list[str]:
    out = [name]
    stem = name.rsplit("/", 1)[-1]
    if ":" in stem:
        model, _, tag = stem.partition(":")
        out += [stem, model] if tag == "latest" else [stem.replace(":", "-"), model]
    elif stem != name:
        out.append(stem)
    return list(dict.fromkeys(out))


def registration_source(
    name: str, source: str | None, modelfile: str | Path | None, store: Store
) -> RegistrationSource:
    """Turn the command's SOURCE / -f / NAME into a Modelfile to register."""
    if modelfile is not None:
        if source is not None:
            raise UsageError(
                "Give either SOURCE or -f MODELFILE, not both",
                hint="forge register NAME -f ./Modelfile   or   forge register NAME ./model.gguf",
            )
        path = Path(modelfile).expanduser()
        if not path.is_file():
            raise ModelNotFoundError.of(path, "a Modelfile", hint="Check the -f path.")
        target = resolve_target(path, accept=["modelfile"], store=store)
        return _from_modelfile(target, store)
    if source is not None:
        target = resolve_target(
            source,
            accept=("gguf", "modelfile", "stored"),
            store=store,
            hint="Check the path of the GGUF or Modelfile, or pass a name from `forge list`.",
        )
        if target.kind == "gguf":
            return _planned(target, "gguf", str(target.entry))
        if target.kind == "modelfile":
            return _from_modelfile(target, store)
        return _from_stored(target, store)
    for candidate in _short_candidates(name):
        entry = store.find(candidate)
        if entry is not None:
            return _from_stored(stored_target(entry, candidate), store)
    store.get(name)  # raises ModelNotFoundError with the known names
    raise AssertionError("unreachable")  # pragma: no cover


def _key_for(path: Path, taken: set[str]) -> str:
    key = path.name if path.name.lower().endswith(".gguf") else f"{path.name}.gguf"
    if key in taken:
        raise UsageError(
            f"Two files would be uploaded under the same name {key!r}",
            hint="Rename one of them; Ollama's files map is keyed by file name.",
        )
    taken.add(key)
    return key


def local_files(mf: Modelfile) -> LocalFiles:
    """The files the Modelfile's FROM/ADAPTER lines name, as Ollama's CLI would find them."""

    base = getattr(mf, "base_dir", None)
    out = LocalFiles()
    taken: set[str] = set()
    seen: set[Path] = set()
    names: list[str] = []
    candidates: list[Path] = []
    for value in mf.from_:
        path = expand_path(value, base)
        if path.is_dir():
            ggufs = sorted(path.glob("*.gguf"))
            if not ggufs:
                raise ModelfileError(
                    f"FROM {value}: the folder has no .gguf file",
                    hint="Point FROM at the GGUF file.",
                )
            candidates += ggufs
        elif path.is_file():
            candidates += expand_shards(path)
        elif looks_like_path(value):
            raise ModelfileError(
                f"FROM {value}: {path} does not exist",
                hint="Ollama would treat it as a model name and try to pull it; fix the path.",
                path=str(path),
            )
        else:
            names.append(value)
    for path in candidates:
        real = path.resolve()
        if real in seen:
            continue
        seen.add(real)
        role: Literal["model", "shard", "projector"] = (
            "shard" if parse_shard_name(path.name) else "model"
        )
        if role == "model" and read_gguf(path).is_projector:
            role = "projector"
        out.files.append(LocalFile(path=path, role=role, key=_key_for(path, taken)))
    for value in getattr(mf, "adapters", None) or []:
        path = expand_path(value, base)
        if not path.is_file():
            raise ModelfileError(
                f"ADAPTER {value}: {path} does not exist", hint="Fix the ADAPTER path."
            )
        out.adapters.append(LocalFile(path=path, role="adapter", key=_key_for(path, taken)))
    for value in getattr(mf, "draft", None) or []:
        path = expand_path(value, base)
        if not path.is_file():
            raise ModelfileError(
                f"DRAFT {value}: {path} does not exist", hint="Fix the DRAFT path."
            )
        out.drafts.append(LocalFile(path=path, role="draft", key=_key_for(path, taken)))
    if names:
        if out.files or len(names) > 1:
            raise ModelfileError(
                f"FROM {names[0]} names an Ollama model while other FROM lines are local files",
                hint="Ollama ignores the local files when any FROM is a model name; use one or the other.",
            )
        out.from_model = names[0]
    if not out.files and out.from_model is None:
        raise ModelfileError("The Modelfile has no FROM line", hint="Add FROM ./model.gguf")
    return out


# --- defence in depth: what may be uploaded -----------------------------------------------------


def builtin_pair_of(mf: Modelfile) -> tuple[str | None, tuple[str, str] | None]:
    """(architecture, allowlisted RENDERER/PARSER pair) of the Modelfile's FROM GGUF, read from the GGUF.

    Only looked up when the Modelfile has a RENDERER or PARSER (nothing to allow otherwise).
    """
    if mf.renderer is None and mf.parser is None:
        return None, None
    return allowlisted_pair(expand_path(v, mf.base_dir) for v in mf.from_ if v)


def refuse_unexpected_instructions(resolved: RegistrationSource) -> None:
    """A Modelfile forge wrote from a GGUF must hold only what forge writes (see modelfile.provenance)."""

    mf = resolved.modelfile
    if resolved.planned:
        found = unexpected_instructions(mf, user_messages=0, builtin=builtin_pair_of(mf))
        where = f"The Modelfile forge planned for {resolved.description}"
    elif is_forge_written(mf):
        found = unexpected_instructions(mf, builtin=builtin_pair_of(mf))
        where = f"The Modelfile {resolved.description} (written by forge from a GGUF)"
    else:
        return
    if found:
        raise ModelfileError(
            f"{where} holds instructions forge never writes from a model file: {'; '.join(found)}. "
            "It was edited or crafted; nothing was uploaded.",
            hint=(
                "Write it again with forge modelfile. If you added these lines yourself, delete the first "
                f"header line ('# {FORGE_MARKER} ...') so forge treats the file as your own Modelfile."
            ),
            source=resolved.description,
            instructions=found,
        )


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def allowed_folders(found: LocalFiles, base_dir: Path | None) -> tuple[set[Path], list[Path]]:
    """(folders whose direct files may be uploaded, trees whose files may be uploaded), resolved.

    Direct files of the main model's folder (as named and where the weights really are) and of
    the Modelfile's folder; anything under the Hugging Face cache, forge's models folder and
    forge's merged shards.
    """

    shallow: set[Path] = set()
    if found.files:
        main = found.files[0].path.absolute()
        shallow |= {_real(main.parent), _real(main).parent}
    if base_dir is not None:
        shallow.add(_real(Path(base_dir).absolute()))
    deep = [_real(root) for root in (hf_hub_cache(), models_dir(), forge_home() / "merged")]
    return shallow, deep


def outside_files(found: LocalFiles, base_dir: Path | None) -> list[LocalFile]:
    """Files to upload whose real location is outside :func:`allowed_folders` (symlinks followed)."""
    shallow, deep = allowed_folders(found, base_dir)
    out: list[LocalFile] = []
    for f in found.uploads:
        real = _real(f.path.absolute())
        if real.parent in shallow or any(real.is_relative_to(root) for root in deep):
            continue
        out.append(f)
    return out


def refuse_outside_files(found: LocalFiles, base_dir: Path | None) -> None:
    """Raise unless every file to upload lies in the model's folder, the HF cache or forge's folders."""
    outside = outside_files(found, base_dir)
    if outside:
        listed = "; ".join(
            f"{f.role} {f.path}"
            + (f" (really {_real(f.path)})" if _real(f.path) != f.path.absolute() else "")
            for f in outside
        )
        raise ModelfileError(
            f"The Modelfile names files outside the model's folder, the Hugging Face cache and forge's models "
            f"folder: {listed}. Nothing was uploaded.",
            hint="Check that you mean to send these files to the Ollama server; if so, pass --allow-outside-files "
            "(allow_outside_files=True).",
            files=[str(f.path) for f in outside],
        )


def check_gguf_magic(found: LocalFiles) -> None:
    """Every file name is writable (no line break or control character), and ADAPTER and DRAFT
    files are GGUFs too (FROM files are read as GGUFs already)."""

    for f in found.uploads:
        check_file_name(f.path, f.role)
    for f in [*found.adapters, *found.drafts]:
        if not is_gguf_file(f.path):
            raise NotGGUFError(
                f"{f.role.upper()} {f.path} is not a GGUF file",
                hint=f"forge registers GGUF {f.role}s only; point the {f.role.upper()} line at one.",
                path=str(f.path),
            )
