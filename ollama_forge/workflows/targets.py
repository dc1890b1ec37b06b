"""What the user named: one resolver for every command (``targets``); it never plans.

A command argument is, tried in this order:

* a **folder**: its ``Modelfile`` when the command takes Modelfiles and there is one, else its
  single model GGUF (shard 1 of a split model; ``mmproj*`` files are projectors, not models);
* a **file**: a GGUF when its name ends in ``.gguf`` or it starts with the GGUF magic, else a
  Modelfile (or, for ``forge render``, Go template text when it does not read like a Modelfile);
* a **stored name** (``forge pull-gguf … --name NAME``): its GGUF files, its written Modelfile;
* a **Hub reference** ``owner/repo[:QUANT]`` (``forge inspect``);
* **Go template text** with ``{{ }}`` (``forge render``).

Each command says which kinds it takes (``accept``); the first that matches wins and a miss is
one :class:`~ollama_forge.errors.NotFoundError` listing what was tried. The result is a
:class:`Target`; reading headers, planning and verifying are the callers' steps.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Collection
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ForgeError, ModelNotFoundError, NotFoundError, UsageError
from ..gguf import is_gguf_file, read_gguf
from ..gguf.split import expand_shards, parse_shard_name
from ..gotemplate.goprint import is_print
from ..hub.refs import looks_like_hub_ref
from ..modelfile import Modelfile, parse_modelfile, read_modelfile
from ..store import Store, StoredModel, validate_short_name

__all__ = [
    "Target",
    "TargetKind",
    "check_file_name",
    "file_name_problem",
    "from_value",
    "resolve_target",
    "stored_target",
]

TargetKind = Literal["gguf", "modelfile", "stored", "hub", "text"]

_WHAT: dict[str, str] = {
    "gguf": "a GGUF file",
    "modelfile": "a Modelfile (or a folder holding one)",
    "stored": "a model in forge's store",
    "hub": "a Hub repo owner/repo[:QUANT]",
    "text": "Go template text with {{ }} (or a template file)",
}
# forge render: a file that reads like a Modelfile (comments, then FROM) is one; else template text
_MODELFILE_START = re.compile(r"(?is)\s*(#.*\n\s*)*from\s")


class Target(BaseModel):
    """What a command argument names, resolved to files (nothing read beyond that)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    text: str = Field(description="the argument as the user wrote it")
    kind: TargetKind
    weights: list[Path] = Field(
        default_factory=list,
        description="gguf/stored: the GGUF, or every shard of a split GGUF in order",
    )
    projector: Path | None = None
    projector_note: str | None = Field(default=None, description="where the projector came from")
    modelfile_path: Path | None = Field(
        default=None, description="the Modelfile named (or the stored model's written one)"
    )
    modelfile: Modelfile | None = Field(default=None, description="that Modelfile, parsed")
    stored: StoredModel | None = None
    hub_ref: str | None = None
    content: str | None = Field(default=None, description="text: the Go template text")
    ignored: list[str] = Field(
        default_factory=list, description="files passed over, with the reason"
    )

    @property
    def entry(self) -> Path:
        """The GGUF whose header describes the model (shard 1 of a split model)."""
        if self.weights:
            return self.weights[0]
        gguf = self.modelfile_gguf()
        if gguf is None:
            raise UsageError(f"{self.text!r} names no local GGUF file")
        return gguf

    @property
    def store_name(self) -> str | None:
        return self.stored.name if self.stored is not None else None

    @property
    def repo(self) -> str | None:
        return self.stored.repo if self.stored is not None else None

    def modelfile_gguf(self) -> Path | None:
        """The first FROM of the Modelfile that is a local GGUF file (the model; projectors follow)."""
        if self.modelfile is None:
            return None
        for path in self.modelfile.resolved_paths():
            if is_gguf_file(path):
                return Path(path).absolute()
        return None


def resolve_target(
    text: str | os.PathLike[str],
    *,
    accept: Collection[TargetKind] = ("gguf", "stored"),
    projector: str | os.PathLike[str] | None = None,
    store: Store | None = None,
    hint: str | None = None,
    whole_split: bool = True,
) -> Target:
    """Resolve a command argument to a :class:`Target` of one of the ``accept``\\ ed kinds.

    ``projector`` (``--projector``) overrides the projector of a GGUF or stored model; without it a
    stored model's recorded projector, else the single ``mmproj*.gguf`` next to the model, is used.
    ``whole_split=False`` keeps a split GGUF's named shard alone in ``weights`` instead of
    requiring every shard (``forge inspect`` reports an incomplete set instead of refusing it).
    """
    raw = os.fspath(text)
    path = Path(raw).expanduser()
    target: Target | None = None
    if path.is_dir():
        target = _from_folder(raw, path, accept, whole_split)
    elif path.is_file():
        target = _from_file(raw, path, accept, whole_split)
    else:
        if "stored" in accept and _could_be_stored_name(raw):
            entry = (store or Store()).find(raw)
            if entry is not None:
                target = stored_target(entry, raw, with_modelfile="modelfile" in accept)
        if target is None and "hub" in accept and looks_like_hub_ref(raw):
            target = Target(text=raw, kind="hub", hub_ref=raw)
        if target is None and "text" in accept and "{{" in raw:
            target = Target(text=raw, kind="text", content=raw)
    if target is None:
        missing = ModelNotFoundError if "stored" in accept else NotFoundError
        raise missing.of(
            raw,
            ", ".join(_WHAT[k] for k in _WHAT if k in accept),
            hint=hint or _default_hint(accept),
            source=raw,
        )
    if target.weights:
        for weight in target.weights:
            check_file_name(weight, "model")
        _attach_projector(target, projector)
    elif projector is not None:
        raise UsageError(
            "--projector goes with a GGUF or a stored model",
            hint="Name the model GGUF (or stored model) as well, or put the projector in the Modelfile's FROM lines.",
        )
    return target


def stored_target(entry: StoredModel, text: str, *, with_modelfile: bool = True) -> Target:
    """A stored model: its GGUF files and, when it has one, the Modelfile forge wrote for it."""
    weights = sorted((Path(f.path) for f in entry.model_files), key=lambda p: p.name)
    target = Target(text=text, kind="stored", weights=weights, stored=entry)
    if with_modelfile and entry.modelfile_path and Path(entry.modelfile_path).is_file():
        target.modelfile_path = Path(entry.modelfile_path)
        target.modelfile = read_modelfile(target.modelfile_path)
    return target


def _from_folder(
    raw: str, path: Path, accept: Collection[TargetKind], whole_split: bool
) -> Target | None:
    modelfile = path / "Modelfile"
    if "modelfile" in accept and modelfile.is_file():
        return _modelfile_target(raw, modelfile)
    if "gguf" not in accept:
        return None
    try:
        files = sorted(
            p
            for p in path.glob("*.gguf")
            if p.is_file() and not p.name.lower().startswith("mmproj")
        )
    except OSError as exc:
        raise UsageError(f"Cannot list {path}: {exc.strerror or exc}") from exc
    entries = [p for p in files if (s := parse_shard_name(p.name)) is None or s.index == 1]
    if not entries:
        raise UsageError(
            f"{path} is a folder with no model .gguf file"
            + (" and no Modelfile" if "modelfile" in accept else ""),
            hint="Pass the .gguf file itself"
            + (", or a Modelfile." if "modelfile" in accept else "."),
        )
    if len(entries) > 1:
        names = ", ".join(p.name for p in entries[:6])
        raise UsageError(
            f"{path} holds several GGUF models ({names})", hint="Pass the .gguf file you mean."
        )
    return Target(text=raw, kind="gguf", weights=_weights(entries[0], whole_split))


def _from_file(
    raw: str, path: Path, accept: Collection[TargetKind], whole_split: bool
) -> Target | None:
    takes_text = "modelfile" in accept or "text" in accept
    # A .gguf name is read as a GGUF without sniffing (a broken one is then reported as such).
    if "gguf" in accept and (
        not takes_text or path.suffix.lower() == ".gguf" or is_gguf_file(path)
    ):
        return Target(text=raw, kind="gguf", weights=_weights(path, whole_split))
    if not takes_text:
        return None
    try:
        content = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError) as exc:
        raise UsageError(
            f"{raw!r} is neither a GGUF file nor a readable text file: {exc}",
            hint="Pass a .gguf, a Modelfile"
            + (" or a template file." if "text" in accept else "."),
        ) from exc
    if "text" in accept and ("modelfile" not in accept or not _MODELFILE_START.match(content)):
        return Target(text=raw, kind="text", content=content)
    return _modelfile_target(raw, path, content)


def _weights(path: Path, whole_split: bool) -> list[Path]:
    return expand_shards(path.absolute()) if whole_split else [path.absolute()]


def _modelfile_target(raw: str, path: Path, content: str | None = None) -> Target:
    absolute = path.absolute()
    modelfile = (
        read_modelfile(absolute)
        if content is None
        else parse_modelfile(content, base_dir=absolute.parent)
    )
    return Target(text=raw, kind="modelfile", modelfile_path=absolute, modelfile=modelfile)


def _could_be_stored_name(text: str) -> bool:
    # forge's short names double as folder names: anything else is a path or a Hub reference,
    # never looked up in the store
    try:
        validate_short_name(text)
    except UsageError:
        return False
    return True


def _default_hint(accept: Collection[TargetKind]) -> str:
    parts = []
    if "gguf" in accept:
        parts.append("a path to a .gguf")
    if "modelfile" in accept:
        parts.append("a Modelfile")
    if "stored" in accept:
        parts.append("a name from `forge list` (forge pull-gguf owner/repo --name NAME)")
    if "hub" in accept:
        parts.append("owner/repo[:QUANT] on the Hub")
    if "text" in accept:
        parts.append("template text")
    return "Pass " + ", ".join(parts[:-1]) + (" or " if len(parts) > 1 else "") + parts[-1] + "."


def _attach_projector(target: Target, projector: str | os.PathLike[str] | None) -> None:
    if projector is not None:
        proj = Path(projector).expanduser()
        check_file_name(proj, "projector")
        if not proj.is_file():
            raise NotFoundError.of(
                proj, "a projector GGUF file", hint="Pass the mmproj .gguf path to --projector."
            )
        target.projector = proj.absolute()
        target.projector_note = "given with --projector"
        return
    recorded = target.stored.projector_path if target.stored is not None else None
    if recorded is not None:
        check_file_name(recorded, "projector")
        target.projector = recorded
        target.projector_note = f"recorded for stored model {target.store_name}"
        return
    sibling = _sibling_projector(target.entry, target.ignored)
    if sibling is not None:
        target.projector = sibling
        target.projector_note = (
            "the one mmproj*.gguf next to the model (--projector chooses another)"
        )


def file_name_problem(text: str) -> str | None:
    """Why a path cannot go into a Modelfile FROM as it is (None when it can).

    A line break would end the FROM value early and make the rest of the name Modelfile
    instructions; other unprintable characters are dropped by Ollama's parser, so the FROM would
    name another file. forge refuses such names instead of quoting them.
    """
    for ch in text:
        if not is_print(ch):
            what = (
                "a line break"
                if ch in "\n\r\v\f\x85\u2028\u2029"
                else "a control or invisible character"
            )
            return f"contains {what} (U+{ord(ch):04X} {unicodedata.name(ch, unicodedata.category(ch))})"
    return None


def check_file_name(path: Path | str, role: str) -> None:
    """Refuse a file whose name cannot be written into a Modelfile faithfully (see :func:`file_name_problem`)."""
    problem = file_name_problem(str(path))
    if problem is not None:
        raise UsageError(
            f"The {role} file name {str(path)!r} {problem}",
            hint="Rename the file (letters, digits, '-', '_', '.'); forge never writes such a name "
            "into a Modelfile.",
            path=str(path),
            role=role,
        )


def from_value(path: Path, modelfile_dir: Path | None) -> str:
    """A FROM value: ``./name`` relative to the Modelfile's folder when inside it, else absolute."""
    absolute = path.absolute()
    if modelfile_dir is not None:
        try:
            rel = absolute.relative_to(modelfile_dir.absolute())
        except ValueError:
            return str(absolute)
        return "./" + rel.as_posix()
    return str(absolute)


def _sibling_projector(path: Path, ignored: list[str]) -> Path | None:
    """The single ``mmproj*.gguf`` next to the model that really is a projector (llama.cpp / Hub layout).

    A sibling whose name has a line break or control character is never picked up (it would be
    written into the Modelfile); it is listed in ``ignored`` instead.
    """
    try:
        found = [
            p
            for p in path.parent.glob("*.gguf")
            if p.name.lower().startswith("mmproj") and p != path
        ]
    except OSError:
        return None
    for candidate in list(found):
        problem = file_name_problem(candidate.name)
        if problem is not None:
            found.remove(candidate)
            ignored.append(f"projector candidate {candidate.name!r}: the name {problem}")
    if len(found) != 1:
        return None
    try:
        if read_gguf(found[0]).is_projector:
            return found[0].absolute()
        ignored.append(f"{found[0].name}: its metadata say it is not a projector")
    except ForgeError as exc:
        ignored.append(f"projector candidate {found[0].name}: unreadable ({exc.message})")
    return None
