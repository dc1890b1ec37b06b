"""Ollama server versions and what they mean for a registration.

* ``/api/version`` -> a comparable :class:`Version`;
* split GGUFs can be imported by ``/api/create`` only from 0.30.0 (ollama.md §3.7);
* from 0.30.0 the GGUF's own Jinja chat template can be rendered natively, and a Go TEMPLATE
  wins unless the Jinja advertises more capabilities (server/images.go
  ``shouldPreferChatTemplate``; ollama.md §3.8). :func:`decide_template` says which path the
  registered model will take, from :mod:`ollama_forge.fidelity.server_path` (the one port of
  Ollama's rules).
"""

from __future__ import annotations

import re
from functools import total_ordering
from typing import Literal

from pydantic import BaseModel, Field

from ..fidelity import server_path
from ..fidelity.server_path import (
    PromptPath,
    chat_template_capabilities,
    go_template_capabilities,
    predict_server_path,
)

NATIVE_TEMPLATE_SINCE = (0, 30, 0)
SPLIT_GGUF_SINCE = (0, 30, 0)
#: format.HumanBytes with >= thresholds, TB and truncated values (``328 MB``); recorded on 0.32.15,
#: older servers forge supports print ``%.1f`` (``328.4 MB``)
TRUNCATED_SIZES_SINCE = (0, 32, 0)

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


@total_ordering
class Version:
    """A parsed Ollama version (``0.33.0``, ``0.30.0-rc2``, ``0.0.0`` for dev builds)."""

    def __init__(self, text: str) -> None:
        self.text = text
        match = _VERSION_RE.match(text.strip())
        self.parts: tuple[int, int, int] = (
            (int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else (0, 0, 0)
        )
        # a dev build ("0.0.0") is current source: treat it as new
        self.is_dev = self.parts == (0, 0, 0)

    def at_least(self, parts: tuple[int, int, int]) -> bool:
        return self.is_dev or self.parts >= parts

    @property
    def native_templates(self) -> bool:
        return self.at_least(NATIVE_TEMPLATE_SINCE)

    @property
    def truncated_sizes(self) -> bool:
        return self.at_least(TRUNCATED_SIZES_SINCE)

    @property
    def split_gguf(self) -> bool:
        return self.at_least(SPLIT_GGUF_SINCE)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.parts == other.parts

    def __lt__(self, other: Version) -> bool:
        return self.parts < other.parts

    def __hash__(self) -> int:
        return hash(self.parts)

    def __repr__(self) -> str:
        return f"Version({self.text!r})"

    def __str__(self) -> str:
        return self.text


TemplatePath = Literal[
    "go_template", "native_jinja", "renderer", "prompt_fallback", "native_default", "inherited"
]


class TemplateDecision(BaseModel):
    """Which prompt template Ollama will use for the registered model, and why."""

    server_version: str | None = None
    native_supported: bool = False
    path: TemplatePath
    send_template: bool = True
    go_capabilities: list[str] = Field(default_factory=list)
    jinja_capabilities: list[str] = Field(default_factory=list)
    recommend_native: bool = False
    explanation: str
    warnings: list[str] = Field(
        default_factory=list, description="the server-path prediction's warnings"
    )

    def __repr__(self) -> str:
        return f"TemplateDecision(path={self.path!r}, send_template={self.send_template}, recommend_native={self.recommend_native})"


def jinja_capabilities(chat_template: str | None) -> list[str]:
    """Capabilities Ollama reads from a GGUF Jinja template (keyword scan, server/images.go)."""

    return chat_template_capabilities(chat_template)


def go_capabilities(template: str | None) -> list[str]:
    """Capabilities Ollama derives from a Go TEMPLATE (tools, insert, thinking)."""

    caps = go_template_capabilities(template).capabilities if template else []
    return [c for c in ("tools", "insert", "thinking") if c in caps]


def prefer_chat_template(chat_template: str, go_template: str) -> bool:
    """Ollama's ``shouldPreferChatTemplate`` (OLLAMA_GO_TEMPLATE unset)."""

    return server_path.prefer_chat_template(
        chat_template, jinja_capabilities(chat_template), go_template, go_capabilities(go_template)
    )


def decide_template(
    version: Version | None,
    *,
    go_template: str | None,
    chat_template: str | None,
    renderer: str | None = None,
    parser: str | None = None,
    architecture: str | None = None,
    native_requested: bool = False,
    base_model: str | None = None,
) -> TemplateDecision:
    """Explain which template path a model registered with these inputs will take.

    The path itself comes from :func:`ollama_forge.fidelity.server_path.predict_server_path`
    (Ollama's rules, per version); this adds what forge sends (``--native-template`` omits the
    TEMPLATE where the server can render the Jinja) and the words for the user.
    """

    native = version.native_templates if version is not None else True
    vtext = str(version) if version is not None else None
    go_caps = go_capabilities(go_template)
    jinja_caps = jinja_capabilities(chat_template)

    def made(
        path: TemplatePath,
        send_template: bool,
        explanation: str,
        recommend_native: bool = False,
        warnings: list[str] | None = None,
    ) -> TemplateDecision:
        return TemplateDecision(
            server_version=vtext,
            native_supported=native,
            path=path,
            send_template=send_template,
            go_capabilities=go_caps,
            jinja_capabilities=jinja_caps,
            recommend_native=recommend_native,
            explanation=explanation,
            warnings=list(warnings or []),
        )

    if base_model is not None and not go_template:
        return made(
            "inherited",
            False,
            f"FROM {base_model}: the model keeps the template of {base_model} "
            "(no TEMPLATE is sent; `forge show` tells which one).",
        )
    omit = native_requested and native and not (renderer or parser)
    predicted = predict_server_path(
        go_template=None if omit else go_template,
        chat_template=chat_template,
        renderer=renderer,
        parser=parser,
        model_family=architecture,
        server_version=None if version is None or version.is_dev else vtext,
    )
    warnings = [w for w in predicted.warnings if not w.startswith("server version unknown")]
    ver = f"Ollama {vtext}" if vtext else "Ollama"
    if predicted.path is PromptPath.BUILTIN:
        return made(
            "renderer",
            bool(go_template) and not native_requested,
            f"{ver}: {predicted.reason}; TEMPLATE is not used for chat.",
            warnings=warnings,
        )
    if not native:
        ignored = (
            (
                "predates 0.30 and cannot render the GGUF's Jinja template; --native-template is ignored and "
                "the Go TEMPLATE is sent"
            )
            if native_requested
            else ""
        )
        if go_template:
            text = (
                f"{ver} {ignored}."
                if ignored
                else f"{ver} (< 0.30) uses the Go TEMPLATE forge sends."
            )
            return made("go_template", True, text, warnings=warnings)
        return made(
            "prompt_fallback",
            False,
            f"{ver} (< 0.30) has no template for this model and falls back to '{{{{ .Prompt }}}}' "
            "unless it autodetects one: the model will likely ramble. Add a TEMPLATE (forge modelfile "
            "--template-path go writes the verified Go TEMPLATE).",
            warnings=warnings,
        )
    if predicted.path is PromptPath.GO_TEMPLATE:
        missing = [c for c in jinja_caps if c not in go_caps]
        text = (
            f"{ver}: the Go TEMPLATE forge sends takes precedence over the GGUF's Jinja template"
            if chat_template
            else f"{ver}: the GGUF has no chat template; Ollama uses the Go TEMPLATE forge sends"
        )
        if missing:
            text += (
                f"; it lacks {', '.join(missing)} that the Jinja has: consider --native-template"
            )
        return made("go_template", True, text + ".", bool(missing), warnings)
    if predicted.path is PromptPath.NATIVE_JINJA:
        if omit:
            return made(
                "native_jinja",
                False,
                f"{ver}: TEMPLATE omitted (--native-template); Ollama renders the GGUF's own Jinja "
                f"chat template natively (capabilities: {', '.join(jinja_caps) or 'none beyond completion'}).",
                warnings=warnings,
            )
        if go_template:
            return made(
                "native_jinja",
                True,
                f"{ver}: the GGUF's Jinja template advertises more capabilities or a tool round trip "
                f"({', '.join(jinja_caps)}) than the Go TEMPLATE ({', '.join(go_caps) or 'none'}), so Ollama "
                "renders the Jinja natively and ignores TEMPLATE; --native-template would omit the unused "
                "TEMPLATE.",
                True,
                warnings,
            )
        return made(
            "native_jinja",
            False,
            f"{ver}: no TEMPLATE is sent; Ollama renders the GGUF's own Jinja chat template natively.",
            warnings=warnings,
        )
    if omit:
        return made(
            "native_default",
            False,
            f"{ver}: --native-template omits TEMPLATE, but the GGUF has no chat template: "
            "llama-server's default template will be used for /api/chat (poorly formatted chats likely).",
            warnings=warnings,
        )
    return made(
        "native_default",
        False,
        f"{ver}: neither a TEMPLATE nor a GGUF chat template: /api/chat uses llama-server's default "
        "template and /api/generate '{{ .Prompt }}'; chats will likely be poorly formatted.",
        warnings=warnings,
    )
