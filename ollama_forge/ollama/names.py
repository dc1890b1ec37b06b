"""Ollama model names: ``[host/][namespace/]model[:tag]`` (types/model/name.go).

* model and tag: first character ``[A-Za-z0-9_]``, then ``[A-Za-z0-9_.-]``, 1-80 characters;
* namespace: the same without ``.``;
* host: 1-350 characters, ``:`` also allowed (a port);
* defaults: ``registry.ollama.ai`` / ``library`` / ``latest``.

Names are compared case-insensitively by Ollama; the display form drops default parts the
way ``ollama list`` shows them (``mymodel:latest``, ``me/mymodel:q4``).
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from ..errors import ModelNameError

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"

_PART = {
    "model": re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$"),
    "tag": re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$"),
    "namespace": re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,79}$"),
    "host": re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}$"),
}
_RULES = {
    "model": "1-80 characters: letters, digits, '_', '.', '-', starting with a letter, digit or '_'",
    "tag": "1-80 characters: letters, digits, '_', '.', '-', starting with a letter, digit or '_'",
    "namespace": "1-80 characters: letters, digits, '_', '-' (no '.'), starting with a letter, digit or '_'",
    "host": "1-350 characters: letters, digits, '_', '.', '-', ':'",
}


class ModelName(BaseModel):
    """A parsed, validated Ollama model name."""

    host: str = DEFAULT_HOST
    namespace: str = DEFAULT_NAMESPACE
    model: str
    tag: str = DEFAULT_TAG

    @property
    def full(self) -> str:
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"

    @property
    def display(self) -> str:
        """The shortest form, as ``ollama list`` prints it (tag always shown)."""
        out = f"{self.model}:{self.tag}"
        if self.namespace != DEFAULT_NAMESPACE or self.host != DEFAULT_HOST:
            out = f"{self.namespace}/{out}"
        if self.host != DEFAULT_HOST:
            out = f"{self.host}/{out}"
        return out

    def key(self) -> str:
        """Case-insensitive identity (Ollama treats names case-insensitively)."""
        return self.full.lower()

    def __str__(self) -> str:
        return self.display


def _fail(raw: str, reason: str) -> ModelNameError:
    return ModelNameError(
        f"Invalid Ollama model name {raw!r}: {reason}",
        hint="Use [namespace/]model[:tag], e.g. 'mymodel', 'mymodel:q4_k_m' or 'me/mymodel:latest'.",
        name=raw,
    )


def parse_model_name(raw: str) -> ModelName:
    """Parse and validate like Ollama's ``ParseName`` + ``IsValid``; raises :class:`ModelNameError`."""
    if not isinstance(raw, str) or not raw.strip():
        raise _fail(str(raw), "the name is empty")
    if raw != raw.strip():
        raise _fail(raw, "leading or trailing whitespace")
    text = raw
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme not in ("http", "https"):
            raise _fail(raw, f"unsupported scheme {scheme!r}")
        text = rest
    if "@" in text:
        raise _fail(raw, "digests ('@sha256:...') are not accepted when naming a new model")
    tag = None
    if text.rfind(":") > text.rfind("/"):
        text, _, tag = text.rpartition(":")
        if not tag:
            raise _fail(raw, "the tag after ':' is empty")
    parts = text.split("/")
    if len(parts) > 3:
        raise _fail(raw, "too many '/' (at most host/namespace/model)")
    if any(p == "" for p in parts):
        raise _fail(raw, "an empty part between '/'")
    values: dict[str, str] = {"model": parts[-1]}
    if len(parts) >= 2:
        values["namespace"] = parts[-2]
    if len(parts) == 3:
        values["host"] = parts[0]
    if tag is not None:
        values["tag"] = tag
    for kind, value in values.items():
        if not _PART[kind].match(value):
            raise _fail(raw, f"{kind} {value!r} must be {_RULES[kind]}")
    return ModelName(**values)


def same_model(a: str, b: str) -> bool:
    """Whether two names denote the same Ollama model (defaults filled, case-insensitive)."""
    try:
        return parse_model_name(a).key() == parse_model_name(b).key()
    except ModelNameError:
        return a.strip().lower() == b.strip().lower()
