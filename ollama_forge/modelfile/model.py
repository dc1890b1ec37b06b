"""The :class:`Modelfile` model: every instruction Ollama's parser accepts, typed.

``parse_modelfile`` applies Ollama's ``CreateRequest`` semantics on top of the lexer:
TEMPLATE/SYSTEM/RENDERER/PARSER keep the last value, FROM/ADAPTER/LICENSE/DRAFT/MESSAGE
accumulate, repeated ``PARAMETER stop`` lines build one list, REQUIRES must be semver.
Unlike Ollama's CLI, unknown, removed and mistyped PARAMETERs are errors here (Ollama
would accept them at create time and then fail, or silently ignore them).
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)

from ..errors import ForgeWarning, ModelfileError, ModelfileParseError, StoreError
from ..store import Store
from .parameters import validate_parameter, validate_parameters
from .parser import ParsedFile, missing_from_error, scan_modelfile
from .paths import expand_path, looks_like_path
from .render import render_modelfile

ERR_REQUIRES = "requires must be a valid semver (e.g. 0.14.0)"
# golang.org/x/mod/semver (Ollama prefixes a missing "v"): v1, v1.2 and v1.2.3[-pre][+build]
_NUM = r"(?:0|[1-9][0-9]*)"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_ID = r"[0-9A-Za-z-]+"
_SEMVER = re.compile(
    rf"v{_NUM}(?:\.{_NUM}(?:\.{_NUM}(?:-{_PRE_ID}(?:\.{_PRE_ID})*)?"
    rf"(?:\+{_BUILD_ID}(?:\.{_BUILD_ID})*)?)?)?"
)


def normalize_requires(value: str) -> str | None:
    """Ollama's REQUIRES handling: add a missing ``v``, check semver, store without ``v``."""
    candidate = value if value.startswith("v") else "v" + value
    return candidate[1:] if _SEMVER.fullmatch(candidate) else None


class Message(BaseModel):
    """A MESSAGE instruction (few-shot history Ollama prepends to every chat)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str


class PlanRecord(BaseModel):
    """What forge planned a Modelfile from; recorded in the store when the Modelfile is saved."""

    model_config = ConfigDict(frozen=True)

    template_source: str | None = Field(
        description="'family:<name>', 'synthesized', 'native' or 'plain'"
    )
    template_path: str | None = Field(default=None, description="'go_template' or 'native_jinja'")
    store_name: str | None = Field(default=None, description="the stored model it was planned for")


class Modelfile(BaseModel):
    """An Ollama Modelfile. ``render()`` gives text Ollama's parser reads back exactly."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    # set by the planner; any change (with_updates, parsing the text again) drops it
    _plan: PlanRecord | None = PrivateAttr(default=None)

    from_: list[str] = Field(
        default_factory=list,
        validation_alias=AliasChoices("from_", "from"),
        description="FROM values in order (weights, shards, projector), as written",
    )
    adapters: list[str] = Field(default_factory=list)
    template: str | None = None
    system: str | None = None
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="validated and typed; stop is a list"
    )
    messages: list[Message] = Field(default_factory=list)
    license: list[str] = Field(default_factory=list)
    requires: str | None = None
    renderer: str | None = None
    parser: str | None = None
    draft: list[str] = Field(default_factory=list)
    comments: list[str] = Field(default_factory=list, description="header comment lines")
    base_dir: Path | None = Field(
        default=None, exclude=True, description="folder relative paths resolve against"
    )

    @field_validator("from_", "adapters", "license", "draft", "comments", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        # A single value or a list; Path objects are accepted for the path-valued fields.
        if isinstance(value, (str, os.PathLike)):
            value = [value]
        if isinstance(value, (list, tuple)):
            return [os.fspath(v) if isinstance(v, os.PathLike) else v for v in value]
        return value

    @field_validator("parameters", mode="before")
    @classmethod
    def _typed_parameters(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            value = list(value)
        return validate_parameters(value)

    @field_validator("requires")
    @classmethod
    def _semver(cls, value: str | None) -> str | None:
        if value is None:
            return None
        normalized = normalize_requires(value)
        if normalized is None:
            raise ModelfileError(
                ERR_REQUIRES,
                hint="Write REQUIRES <major.minor.patch>, e.g. 0.14.0.",
                requires=value,
            )
        return normalized

    def __eq__(self, other: object) -> bool:
        # base_dir is where the file lives, not what it says: excluded like in serialization.
        if not isinstance(other, Modelfile):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]  # mutable model

    # -- text --------------------------------------------------------------------------

    def render(self) -> str:
        """LF text; raises ModelfileRenderError when a value cannot be written faithfully."""
        return render_modelfile(self)

    @property
    def plan(self) -> PlanRecord | None:
        """What forge planned this Modelfile from (None for one parsed, built by hand or edited)."""
        return self._plan

    def with_plan(self, plan: PlanRecord | None) -> Modelfile:
        """A copy that carries ``plan`` (the planner's record, saved with the file)."""
        copy = self.model_copy(deep=True)
        copy._plan = plan
        return copy

    def save(self, path: str | Path) -> Path:
        """Write the rendered text atomically (temp file in the same folder, then replace).

        A Modelfile forge planned is recorded in forge's store with where its TEMPLATE came from
        (and, for a stored model, as that model's Modelfile), so ``forge register`` knows it
        without reading comments; the record holds only while the file keeps the text written.
        """
        target = Path(path)
        text = self.render()
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(text.encode("utf-8"))
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if self._plan is not None:
            self._record(target, text)
        return target

    def _record(self, target: Path, text: str) -> None:

        plan = self._plan
        assert plan is not None
        try:
            Store().record_modelfile(
                target,
                text,
                template_source=plan.template_source,
                template_path=plan.template_path,
                store_name=plan.store_name,
            )
        except StoreError as exc:  # the Modelfile itself is written; only the record is missing
            warnings.warn(
                f"{target} was written, but forge's store could not record it: {exc.message}",
                ForgeWarning,
                stacklevel=3,
            )

    def __repr__(self) -> str:
        try:
            text = self.render()
        except ModelfileError as exc:
            return f"Modelfile(<not renderable: {exc.message}> {self.model_dump()!r})"
        return "Modelfile(\n" + "".join(f"  {line}\n" for line in text[:-1].split("\n")) + ")"

    def __str__(self) -> str:
        # print(mf) shows the Modelfile itself when it can be written
        try:
            return self.render()
        except ModelfileError:
            return repr(self)

    def _repr_markdown_(self) -> str:
        try:
            text = self.render()
        except ModelfileError as exc:
            return f"**Modelfile not renderable:** {exc.message}"
        longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
        fence = "`" * max(3, longest + 1)
        return f"{fence}text\n{text}{fence}\n"

    # -- paths -------------------------------------------------------------------------

    def _expand(self, value: str) -> Path:
        return expand_path(value, self.base_dir)

    def resolved_paths(self) -> list[Path]:
        """Absolute paths of FROM values that are local paths, then ADAPTERs and DRAFTs."""
        out = [
            self._expand(v)
            for v in self.from_
            if v and (looks_like_path(v) or self._expand(v).exists())
        ]
        out.extend(self._expand(v) for v in self.adapters)
        out.extend(self._expand(v) for v in self.draft)
        return out

    def local_from_problems(self) -> list[str]:
        """FROM values Ollama would silently turn into model names (security.md §7), and more."""
        problems: list[str] = []
        from_paths: list[Path] = []
        for value in self.from_:
            if value == "":
                problems.append("FROM is empty: Ollama would import the Modelfile's whole folder")
                continue
            path = self._expand(value)
            if path.exists():
                from_paths.append(path)
            elif looks_like_path(value):
                problems.append(
                    f"FROM {value}: {path} does not exist; Ollama would treat '{value}' as a "
                    "model name (pull it from a registry or fail with 'invalid model name')"
                )
        for value in self.draft:
            path = self._expand(value)
            if path.exists() and any(
                os.path.realpath(path) == os.path.realpath(p) for p in from_paths
            ):
                problems.append(f"DRAFT must not reference the same local path as FROM: {path}")
        return problems

    # -- API ---------------------------------------------------------------------------

    def to_create_request(self) -> dict[str, Any]:
        """The ``/api/create`` fields a Modelfile sets (not model/from/files/adapters)."""
        out: dict[str, Any] = {}
        if self.template is not None:
            out["template"] = self.template
        if self.system is not None:
            out["system"] = self.system
        if self.parameters:
            out["parameters"] = {
                k: list(v) if isinstance(v, list) else v for k, v in self.parameters.items()
            }
        if self.messages:
            out["messages"] = [m.model_dump() for m in self.messages]
        if self.license:
            out["license"] = list(self.license)
        for key in ("requires", "renderer", "parser"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    def with_updates(self, **changes: Any) -> Modelfile:
        """A validated copy with some fields replaced (``from_`` or ``from`` for FROM)."""
        if "from" in changes:
            changes["from_"] = changes.pop("from")
        unknown = sorted(set(changes) - set(type(self).model_fields))
        if unknown:
            raise ModelfileError(
                f"Unknown Modelfile field(s): {', '.join(unknown)}",
                hint="Fields: " + ", ".join(type(self).model_fields) + ".",
            )
        data = {**self.model_dump(), "base_dir": self.base_dir, **changes}
        try:
            return type(self).model_validate(data)
        except ValidationError as exc:
            raise ModelfileError(
                f"Invalid Modelfile update: {exc}", hint="Check the types of the changed fields."
            ) from exc


def _header_comments(parsed: ParsedFile) -> list[str]:
    first = parsed.first_command_line
    lines = [c for c in parsed.comments if first is None or c.line < first]
    # "# text" -> "text": one separating space is syntax, the rest is content.
    return [c.text[1:] if c.text.startswith(" ") else c.text for c in lines]


def parse_modelfile(text: str | bytes, base_dir: str | Path | None = None) -> Modelfile:
    """Parse Modelfile text exactly as Ollama does, then validate it like Ollama's CLI.

    ``bytes`` are decoded BOM-aware (UTF-8, UTF-16 LE/BE with a BOM). ``base_dir`` is the
    Modelfile's folder (relative FROM/ADAPTER/DRAFT paths resolve against it).
    """
    parsed = scan_modelfile(text)
    if not any(c.name == "model" for c in parsed.commands):
        raise missing_from_error()
    fields: dict[str, Any] = {
        "from_": [],
        "adapters": [],
        "license": [],
        "draft": [],
        "messages": [],
    }
    params: dict[str, Any] = {}
    for cmd in parsed.commands:
        name, args = cmd.name, cmd.args
        if cmd.keyword == "parameter":
            value = validate_parameter(name, args, line=cmd.line)
            if name == "stop" and "stop" in params:
                params["stop"] = [*params["stop"], *value]
            else:
                params[name] = value
        elif name == "model":
            fields["from_"].append(args)
        elif name in ("adapter", "draft", "license"):
            fields["adapters" if name == "adapter" else name].append(args)
        elif name in ("template", "system", "renderer", "parser"):
            fields[name] = args
        elif name == "requires":
            normalized = normalize_requires(args)
            if normalized is None:
                raise ModelfileParseError(
                    ERR_REQUIRES,
                    hint="Write REQUIRES <major.minor.patch>, e.g. REQUIRES 0.14.0.",
                    line=cmd.line,
                    requires=args,
                )
            fields["requires"] = normalized
        elif name == "message":
            role, _, content = args.partition(": ")
            fields["messages"].append(Message(role=role, content=content))  # type: ignore[arg-type]
        else:  # pragma: no cover - the lexer only produces the names above
            raise ModelfileParseError(f"unexpected instruction {name!r}", line=cmd.line)
    fields["parameters"] = params
    fields["comments"] = _header_comments(parsed)
    fields["base_dir"] = Path(base_dir) if base_dir is not None else None
    return Modelfile.model_validate(fields)


def read_modelfile(path: str | Path) -> Modelfile:
    """Read a Modelfile from disk; relative paths resolve against its folder (like Ollama)."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ModelfileError(
            f"Cannot read Modelfile {file}: {exc.strerror or exc}",
            hint="Check the path (Ollama would silently fall back to FROM .).",
            path=str(file),
        ) from exc
    return parse_modelfile(data, base_dir=file.absolute().parent)
