r"""Model families: detection metadata plus the Go TEMPLATE body, built-in and user-supplied.

A family file is a Jinja template whose **first** block is a metadata comment holding one
JSON object, followed by the **Go template body** (only the TEMPLATE text)::

    {#- forge-family
    {
      "name": "llama3",
      "description": "Meta Llama 3.x instruct (3.1/3.3 tool calls)",
      "aliases": ["llama3.1", "llama3.3"],
      "architectures": ["llama"],
      "name_patterns": ["llama[-_ .]?3"],
      "chat_template_sha256": ["<sha256 of the normalised chat template>"],
      "signatures": [["<|start_header_id|>", "<|eot_id|>"]],
      "stop_tokens": ["<|eot_id|>", "<|eom_id|>"],
      "turn_openers": ["<|start_header_id|>"],
      "text_stops": [],
      "default_system": null,
      "parameters": {},
      "supports_tools": true,
      "supports_thinking": false,
      "priority": 10,
      "references": ["meta-llama-Llama-3.1-8B-Instruct"]
    }
    -#}
    {% raw %}...the Ollama Go template, verbatim...{% endraw %}

A family never writes Modelfile text. FROM, SYSTEM, stops, ``num_ctx`` and the other
PARAMETERs are data (this metadata, the model, the user) that :mod:`.build` puts into the typed
:class:`~ollama_forge.modelfile.Modelfile`, whose renderer refuses what Ollama would read back
differently. The body is rendered in jinja2's ``ImmutableSandboxedEnvironment`` with
``StrictUndefined`` (family folders are untrusted input too) and only the variables in
:data:`BODY_VARIABLES`; the token texts among them come from the GGUF, so they are handed over
already written as Go template text (:func:`go_text`): a token like ``<s>`` stays as is, anything
that could open an action or is not plain becomes a quoted literal action ``{{ "..." }}``.
The result must parse as a Go template. The file's final newline is not part of the template.

Built-in families live in ``ollama_forge/templates`` (wheel) or the repository's
``templates/``. A user folder (``--families-dir`` or ``FORGE_FAMILIES``) adds families or
replaces built-in ones with the same name.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..config import user_families_dir
from ..errors import FamilyError, TemplateError
from ..gotemplate import parse as parse_go
from ..gotemplate.goprint import is_print
from ..gotemplate.literals import go_quote
from ..modelfile import Modelfile

MARKER = "forge-family"
_HEADER = re.compile(r"\A\s*\{#-?\s*forge-family\b(?P<meta>.*?)-?#\}\n?", re.S)
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_FAMILY_FILE_BYTES = 256 * 1024

BODY_VARIABLES: dict[str, str] = {
    "bos_token": "the model's BOS token as Go template text ('' when none)",
    "eos_token": "the model's EOS token as Go template text ('' when none)",
    "bos_prefix": "the BOS a template must print itself, as Go template text: '' when the GGUF sets "
    "add_bos_token (llama.cpp adds BOS while tokenising), else bos_token",
    "add_bos_token": "the GGUF's tokenizer.ggml.add_bos_token (bool)",
    "family": "this family's metadata (a dict)",
}
# Token texts that may stand in Go template text as they are: no braces (an action could open),
# no quotes or backslashes, printable, no surrounding or line-breaking whitespace.
_PLAIN_GO_TEXT = re.compile(r'[^\s{}"\\`]+(?: [^\s{}"\\`]+)*')
_LEGACY_BODY = re.compile(r"\s*FROM\s", re.I)


class Family(BaseModel):
    """One model family: detection signatures, stop policy, defaults and its Go template body."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    aliases: list[str] = Field(default_factory=list)
    architectures: list[str] = Field(
        default_factory=list, description="general.architecture values"
    )
    name_patterns: list[str] = Field(
        default_factory=list, description="regexes (case-insensitive) searched in model/file names"
    )
    chat_template_sha256: list[str] = Field(
        default_factory=list, description="sha256 of known chat templates (normalised)"
    )
    signatures: list[list[str]] = Field(
        default_factory=list,
        description="each: strings that must all occur in the chat template "
        "('!text': must not occur)",
    )
    stop_tokens: list[str] = Field(
        default_factory=list, description="turn terminators, used only when in the vocabulary"
    )
    turn_openers: list[str] = Field(default_factory=list, description="never used as stops")
    text_stops: list[str] = Field(default_factory=list, description="plain-text stops, always used")
    default_system: str | None = None
    default_system_pattern: str | None = Field(
        default=None,
        description="regex whose group 1 takes the default SYSTEM from the GGUF's own chat "
        "template rendered for one user message (e.g. Qwen's built-in prompt)",
    )
    parameters: dict[str, Any] = Field(default_factory=dict)
    supports_tools: bool = False
    supports_thinking: bool = False
    priority: int = 0
    references: list[str] = Field(
        default_factory=list,
        description="real chat templates (corpus names) the template reproduces",
    )
    source: Literal["builtin", "user"] = "builtin"
    path: str = ""
    body: str = Field(default="", exclude=True, repr=False)

    @property
    def all_names(self) -> list[str]:
        return [self.name, *self.aliases]


class _Meta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    aliases: list[str] = Field(default_factory=list)
    architectures: list[str] = Field(default_factory=list)
    name_patterns: list[str] = Field(default_factory=list)
    chat_template_sha256: list[str] = Field(default_factory=list)
    signatures: list[list[str]] = Field(default_factory=list)
    stop_tokens: list[str] = Field(default_factory=list)
    turn_openers: list[str] = Field(default_factory=list)
    text_stops: list[str] = Field(default_factory=list)
    default_system: str | None = None
    default_system_pattern: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    supports_tools: bool = False
    supports_thinking: bool = False
    priority: int = 0
    references: list[str] = Field(default_factory=list)


def normalize_chat_template(text: str) -> str:
    """The form family hashes are taken of: LF line ends, no surrounding whitespace."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def chat_template_sha256(text: str) -> str:
    return hashlib.sha256(normalize_chat_template(text).encode("utf-8")).hexdigest()


def builtin_dir() -> Path:
    """The shipped templates folder (wheel), else the repository's ``templates/``."""
    package = Path(__file__).resolve().parent.parent
    shipped = package / "templates"
    if shipped.is_dir():
        return shipped
    return package.parent / "templates"


def parse_family_file(
    text: str, *, path: str = "<string>", source: Literal["builtin", "user"] = "user"
) -> Family:
    """Split a family file into metadata and body, validating both."""
    match = _HEADER.match(text)
    if match is None:
        raise FamilyError(
            f"{path}: a family file must start with a '{{#- {MARKER} {{...json...}} -#}}' metadata comment",
            hint="See `forge families --help` or a built-in file under templates/ for the format.",
            path=path,
        )
    try:
        raw = json.loads(match.group("meta"))
    except json.JSONDecodeError as exc:
        raise FamilyError(
            f"{path}: the {MARKER} metadata is not valid JSON: {exc}",
            hint="Write the metadata as one JSON object (double quotes, no trailing commas).",
            path=path,
        ) from exc
    try:
        meta = _Meta.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise FamilyError(
            f"{path}: bad {MARKER} metadata at {where or 'top level'}: {first.get('msg')}",
            hint="Allowed keys: " + ", ".join(_Meta.model_fields),
            path=path,
        ) from exc
    if not _NAME.match(meta.name):
        raise FamilyError(
            f"{path}: family name {meta.name!r} is not allowed",
            hint="Use lowercase letters, digits, '.', '_' and '-' (max 64 characters).",
            path=path,
        )
    for pattern in [
        *meta.name_patterns,
        *([meta.default_system_pattern] if meta.default_system_pattern else []),
    ]:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise FamilyError(
                f"{path}: pattern {pattern!r} is not a valid regex: {exc}",
                hint="Fix the regular expression (name_patterns / default_system_pattern).",
                path=path,
            ) from exc
    for digest in meta.chat_template_sha256:
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise FamilyError(
                f"{path}: {digest!r} is not a lowercase sha256 hex digest",
                hint="Compute it with forge.families.chat_template_sha256(text).",
                path=path,
            )
    body = text[match.end() :]
    if source != "builtin":
        # User files are untrusted and unreviewed: report syntax errors at load time. Built-in
        # bodies are compiled on first render only (compiling all of them costs ~0.2 s per CLI run).
        _check_body_syntax(body, path)
    _check_body_format(body, path)
    return Family(**meta.model_dump(), source=source, path=path, body=body)


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    # keep_trailing_newline=False: the file's last newline is not part of the Go template.
    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
    )


def _check_body_syntax(body: str, path: str) -> None:
    from jinja2 import TemplateSyntaxError

    try:
        _environment().parse(body)
    except TemplateSyntaxError as exc:
        raise FamilyError(
            f"{path}: Jinja syntax error in the template body (line {exc.lineno}): {exc.message}",
            hint="Keep the Go template inside {% raw %}...{% endraw %}.",
            path=path,
        ) from exc


def _check_body_format(body: str, path: str) -> None:
    if _LEGACY_BODY.match(body):
        raise FamilyError(
            f"{path}: the body is a whole Modelfile (FROM ...); family files now hold only the Go template",
            hint='Keep just the text that was inside TEMPLATE """...""" and delete the FROM, TEMPLATE, '
            "SYSTEM and PARAMETER lines: stops come from stop_tokens/text_stops, defaults from "
            "parameters/default_system in the metadata (see templates/README.md).",
            path=path,
        )


@functools.lru_cache(maxsize=256)
def _compile_body(body: str, path: str) -> Any:
    from jinja2 import TemplateSyntaxError

    try:
        return _environment().from_string(body)
    except TemplateSyntaxError as exc:
        raise FamilyError(
            f"{path}: Jinja syntax error in the template body (line {exc.lineno}): {exc.message}",
            hint="Keep the Go template inside {% raw %}...{% endraw %}.",
            path=path,
        ) from exc


def go_text(value: str) -> str:
    """``value`` written as Go template text that prints exactly ``value``.

    Plain token texts (``<s>``, ``<|im_end|>``) stay as they are, so Modelfiles read like
    Ollama's own; anything else (``{{``, quotes, line breaks, edge spaces that a ``{{-`` could
    trim, unprintable characters) becomes a quoted literal action ``{{ "..." }}`` (Go's
    strconv.Quote), which can never open an action or end the TEMPLATE value.
    """

    if value == "":
        return ""
    if _PLAIN_GO_TEXT.fullmatch(value) and all(is_print(ch) for ch in value):
        return value
    return "{{ " + go_quote(value) + " }}"


def render_family_template(
    family: Family,
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_bos_token: bool = False,
    bos_prefix: str | None = None,
) -> str:
    """The family's Go TEMPLATE for a model with these special tokens (raw texts, from the GGUF).

    ``bos_prefix`` defaults to ``bos_token`` when the GGUF does not set ``add_bos_token``, else
    ``''``. Every token text enters the template only through :func:`go_text`. The result is
    checked to parse as a Go template.
    """
    from jinja2 import TemplateError as JinjaError
    from jinja2.exceptions import SecurityError

    template = _compile_body(family.body, family.path)
    prefix = ("" if add_bos_token else bos_token) if bos_prefix is None else bos_prefix
    context: dict[str, Any] = {
        "bos_token": go_text(bos_token),
        "eos_token": go_text(eos_token),
        "bos_prefix": go_text(prefix),
        "add_bos_token": bool(add_bos_token),
        "family": family.model_dump(mode="json"),
    }
    try:
        text = str(template.render(**context))
    except SecurityError as exc:
        raise FamilyError(
            f"family {family.name!r} ({family.path}) was refused by the sandbox: {exc}",
            hint="Family files may only format the variables forge passes.",
            family=family.name,
        ) from exc
    except (
        JinjaError,
        TypeError,
        ValueError,
        LookupError,
        ArithmeticError,
        AttributeError,
        RecursionError,
    ) as exc:
        # The body is untrusted: whatever it does wrong is the family file's error, not a crash.
        raise FamilyError(
            f"family {family.name!r} ({family.path}) failed to render: {type(exc).__name__}: {exc}",
            hint="Use only the variables: " + ", ".join(BODY_VARIABLES),
            family=family.name,
        ) from exc

    try:
        parse_go(text)
    except TemplateError as exc:
        raise FamilyError(
            f"family {family.name!r} ({family.path}) renders an invalid Go template: {exc.message}",
            hint="Fix the Go template in the family file (forge render can try it).",
            family=family.name,
        ) from exc
    return text


def render_family_body(family: Family, variables: Mapping[str, Any]) -> str:
    """Modelfile text for a family and sample values (conformance harnesses, documentation).

    Kept for the old whole-Modelfile call shape (``model_path``, ``extra_from``, ``stops``,
    ``num_ctx``, ``system``, ``params``, ``bos_token``, ``eos_token``, ``bos_prefix``,
    ``add_bos_token``), but built as data through the typed Modelfile and its refusing renderer.
    """

    template = render_family_template(
        family,
        bos_token=str(variables.get("bos_token") or ""),
        eos_token=str(variables.get("eos_token") or ""),
        add_bos_token=bool(variables.get("add_bos_token")),
        bos_prefix=None if variables.get("bos_prefix") is None else str(variables["bos_prefix"]),
    )
    params: dict[str, Any] = dict(variables.get("params") or {})
    if variables.get("stops"):
        params["stop"] = list(variables["stops"])
    if variables.get("num_ctx") is not None:
        params["num_ctx"] = variables["num_ctx"]
    from_ = [
        str(variables.get("model_path") or "./model.gguf"),
        *(str(p) for p in variables.get("extra_from") or []),
    ]
    modelfile = Modelfile(
        from_=from_, template=template, system=variables.get("system"), parameters=params
    )
    text: str = modelfile.render()
    return text


def _load_folder(folder: Path, source: Literal["builtin", "user"]) -> list[Family]:
    families: list[Family] = []
    for file in sorted(folder.glob("*.jinja")):
        if file.name.startswith(("_", ".")) or not file.is_file():
            continue
        size = file.stat().st_size
        if size > MAX_FAMILY_FILE_BYTES:
            raise FamilyError(
                f"{file}: family file is {size} bytes (limit {MAX_FAMILY_FILE_BYTES})",
                hint="Family files hold metadata and one Go template; remove the extra content.",
                path=str(file),
            )
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FamilyError(
                f"Cannot read family file {file}: {exc}",
                hint="Family files must be readable UTF-8 text.",
                path=str(file),
            ) from exc
        families.append(parse_family_file(text, path=str(file), source=source))
    return families


def user_dir(families_dir: str | os.PathLike[str] | None = None) -> Path | None:

    folder = Path(families_dir).expanduser() if families_dir is not None else user_families_dir()
    if folder is None:
        return None
    if not folder.is_dir():
        raise FamilyError(
            f"Family folder {folder} does not exist or is not a folder",
            hint="Pass an existing folder to --families-dir / FORGE_FAMILIES, or unset it.",
            path=str(folder),
        )
    return folder


def load_families(families_dir: str | os.PathLike[str] | None = None) -> dict[str, Family]:
    """Built-in families, then the user folder's (same name replaces), keyed by name."""
    folder = builtin_dir()
    if not folder.is_dir():
        raise FamilyError(
            f"forge's family templates are missing ({folder})",
            hint="Reinstall ollama-forge; the wheel ships ollama_forge/templates.",
        )
    families: dict[str, Family] = {}
    for family in _load_folder(folder, "builtin"):
        if family.name in families:
            raise FamilyError(f"Two built-in families are named {family.name!r}", path=family.path)
        families[family.name] = family
    extra = user_dir(families_dir)
    if extra is not None:
        seen: set[str] = set()
        for family in _load_folder(extra, "user"):
            if family.name in seen:
                raise FamilyError(
                    f"Two family files in {extra} are named {family.name!r}",
                    hint="Give each family file a unique name.",
                    path=family.path,
                )
            seen.add(family.name)
            families[family.name] = family
    return families


def list_families(families_dir: str | os.PathLike[str] | None = None) -> list[Family]:
    """Every family (built-in and user), sorted by name."""
    return sorted(load_families(families_dir).values(), key=lambda f: f.name)


def get_family(name: str, families: Mapping[str, Family]) -> Family:
    """A family by name or alias (case-insensitive)."""
    wanted = name.strip().lower()
    if wanted in families:
        return families[wanted]
    for family in families.values():
        if wanted in (a.lower() for a in family.aliases):
            return family
    known = ", ".join(sorted(families))
    raise FamilyError(
        f"Unknown model family {name!r}",
        hint=f"Choose one of: {known} (forge families lists them), or add a file to your "
        "families folder (--families-dir / FORGE_FAMILIES).",
        family=name,
    )
