"""Resolving ``NAME | PATH`` (+ ``-f MODELFILE``) to a GGUF and the Modelfile that says how to prompt it.

Shared by ``forge chat`` and ``forge check``: a stored model uses its written Modelfile, a bare
GGUF gets the one :func:`ollama_forge.families.build_modelfile` derives.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ModelNotFoundError, UsageError

if TYPE_CHECKING:
    from ..modelfile import Modelfile


class ResolvedModel(BaseModel):
    """A GGUF plus the Modelfile that says how to prompt it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    target: str
    gguf_path: Path
    modelfile: Any  # ollama_forge.modelfile.Modelfile (typed loosely to keep imports light)
    modelfile_source: str = Field(description="file:<path>, store:<path> or generated")
    store_name: str | None = None


def resolve_model(
    target: str | Path | None = None, modelfile: str | Path | Modelfile | None = None
) -> ResolvedModel:
    """The GGUF and Modelfile for ``target`` (a stored name or a GGUF path) and/or ``-f MODELFILE``.

    Without a Modelfile: the stored model's written Modelfile if there is one, else the one
    :func:`ollama_forge.families.build_modelfile` derives from the GGUF.
    """
    from ..modelfile import Modelfile, read_modelfile
    from ..store import Store

    mf: Modelfile | None = None
    source = "generated"
    if isinstance(modelfile, Modelfile):
        mf, source = modelfile, "given"
    elif modelfile is not None:
        path = Path(modelfile).expanduser()
        if not path.is_file():
            raise ModelNotFoundError.of(path, "a Modelfile", hint="Pass the path of a Modelfile to -f.")
        mf, source = read_modelfile(path), f"file:{path}"

    store_name: str | None = None
    gguf: Path | None = None
    if target is None:
        if mf is None:
            raise UsageError("Name a model (stored name or GGUF path) or pass -f MODELFILE")
        gguf = _gguf_from_modelfile(mf)
        label = str(gguf)
    else:
        label = str(target)
        path = Path(target).expanduser()
        if path.is_file():
            gguf = path.absolute()
        elif path.is_dir():
            raise UsageError(
                f"{path} is a folder, not a GGUF file",
                hint="Pass the .gguf file itself (for a split model, its first shard).",
            )
        else:
            stored = Store().find(str(target))
            if stored is None:
                raise ModelNotFoundError.of(
                    target, "a GGUF file, a model in forge's store",
                    hint="Pass a path to a .gguf file, or pull it first: forge pull-gguf owner/repo --name NAME",
                    name=str(target),
                )
            store_name = stored.name
            gguf = stored.entry_path
            if mf is None and stored.modelfile_path and Path(stored.modelfile_path).is_file():
                mf, source = read_modelfile(stored.modelfile_path), f"store:{stored.modelfile_path}"
    if not gguf.is_file():
        raise ModelNotFoundError.of(
            gguf, "the GGUF file it names",
            hint="Pull the model again (forge pull-gguf) or fix the path.",
            path=str(gguf),
        )
    if mf is None:
        from rich.markup import escape

        from ..cli.console import safe_text, warn
        from .plan import plan_modelfile

        plan = plan_modelfile(gguf)
        mf = plan.modelfile
        for message in plan.warnings:
            warn(escape(safe_text(message)))
        source = "generated"
    return ResolvedModel(target=label, gguf_path=gguf, modelfile=mf, modelfile_source=source, store_name=store_name)


def _gguf_from_modelfile(mf: Modelfile) -> Path:
    for path in mf.resolved_paths():
        if path.is_file():
            return path
    shown = ", ".join(mf.from_) or "(none)"
    raise UsageError(
        f"The Modelfile's FROM ({shown}) is not a local GGUF file",
        hint="forge chat/check run local GGUFs: name the GGUF or stored model as well (forge chat NAME -f MODELFILE).",
    )
