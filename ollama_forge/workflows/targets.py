"""Which files a Modelfile is written for: a GGUF path (its shards found beside it) or a stored name."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

from ..errors import UsageError
from ..gguf.split import expand_shards


class ResolvedSource(BaseModel):
    """The files a Modelfile is written for."""

    weights: list[Path] = Field(description="the GGUF, or every shard of a split GGUF in order")
    projector: Path | None = None
    projector_note: str | None = Field(default=None, description="where the projector came from")
    store_name: str | None = None
    repo: str | None = None
    ignored: list[str] = Field(
        default_factory=list, description="files passed over, with the reason"
    )

    @property
    def entry(self) -> Path:
        return self.weights[0]


def resolve_source(
    source: str | os.PathLike[str], projector: str | os.PathLike[str] | None = None
) -> ResolvedSource:
    """A GGUF path (shards found next to it) or a stored model name -> the files to use."""
    path = Path(source).expanduser()
    if path.is_dir():
        raise UsageError(
            f"{path} is a folder", hint="Pass the .gguf file itself (or a stored model name)."
        )
    if path.is_file():
        resolved = ResolvedSource(weights=expand_shards(path.absolute()))
    else:
        from ..store import Store

        entry = Store().find(str(source))
        if entry is None:
            from ..errors import NotFoundError

            raise NotFoundError.of(
                source,
                "a GGUF file, a model in forge's store",
                hint="Pass a path to a .gguf, or pull the model first: forge pull-gguf owner/repo",
                source=str(source),
            )
        weights = sorted((Path(f.path) for f in entry.model_files), key=lambda p: p.name)
        if not weights:
            raise UsageError(
                f"Stored model {entry.name!r} has no model file",
                hint=f"Pull it again: forge pull-gguf {entry.repo or 'owner/repo'} --name {entry.name}",
            )
        resolved = ResolvedSource(
            weights=weights, projector=entry.projector_path, store_name=entry.name, repo=entry.repo
        )
    for weight in resolved.weights:
        check_file_name(weight, "model")
    if projector is not None:
        proj = Path(projector).expanduser()
        check_file_name(proj, "projector")
        if not proj.is_file():
            from ..errors import NotFoundError

            raise NotFoundError.of(
                proj, "a projector GGUF file", hint="Pass the mmproj .gguf path to --projector."
            )
        resolved.projector = proj.absolute()
        resolved.projector_note = "given with --projector"
    elif resolved.projector is not None:
        check_file_name(resolved.projector, "projector")
        resolved.projector_note = f"recorded for stored model {resolved.store_name}"
    else:
        sibling = _sibling_projector(resolved.entry, resolved.ignored)
        if sibling is not None:
            resolved.projector = sibling
            resolved.projector_note = (
                "the one mmproj*.gguf next to the model (--projector chooses another)"
            )
    return resolved


def file_name_problem(text: str) -> str | None:
    """Why a path cannot go into a Modelfile FROM as it is (None when it can).

    A line break would end the FROM value early and make the rest of the name Modelfile
    instructions; other unprintable characters are dropped by Ollama's parser, so the FROM would
    name another file. forge refuses such names instead of quoting them.
    """
    import unicodedata

    from ..modelfile.parser import is_print

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
    from ..errors import ForgeError
    from ..gguf import read_gguf

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
        return found[0].absolute() if read_gguf(found[0]).is_projector else None
    except ForgeError:
        return None
