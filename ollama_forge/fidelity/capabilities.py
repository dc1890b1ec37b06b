"""After registration: the capabilities Ollama reports against what the model's chat template supports.

``/api/show`` lists ``capabilities`` (completion, tools, thinking, vision, insert); Ollama refuses
``tools`` and ``think`` to a model whose list lacks them. :func:`compare_capabilities` says where
that list differs from what the GGUF's chat template supports (forge's reading, which also counts
``enable_thinking`` / ``reasoning_content`` templates) and from what forge predicted for the
server's path (:func:`.server_path.predict_server_path`); :func:`check_registered` asks the server.

Decision (issue 16): forge declares no capability itself - no ``capabilities`` create field, no
``info.capabilities``, no CAPABILITY Modelfile line. Ollama derives every capability forge's
prompt renders: from the Go TEMPLATE (``tools`` from ``.Tools``, ``thinking`` from its reasoning
tags, ``insert`` from ``.Suffix``), from the GGUF's Jinja on the native path, from the built-in
PARSER on the renderer path and ``vision`` from the projector. A declared capability only adds
what the prompt does not render: the recorded 0.32.15 server accepts ``tools`` for a model whose
``info.capabilities`` says so and then silently drops the tools (ollama-real README item 20).
Ollama's later server/create.go (0029bb5) validates a ``capabilities`` create field and adds it to
the config; no stored parser/parser.go accepts a CAPABILITY command, so forge's Modelfile parser
does not either (its grammar is unconfirmed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ..gguf import read_gguf
from ..ollama.models import show
from .compare import chat_template_capabilities
from .server_path import predict_server_path

__all__ = ["CapabilityCheck", "check_registered", "compare_capabilities"]

_WATCHED = ("tools", "thinking")


class CapabilityCheck(BaseModel):
    name: str | None = None
    reported: list[str] = Field(description="/api/show capabilities")
    template_supports: list[str] = Field(
        description="tools/thinking the GGUF's chat template supports"
    )
    predicted: list[str] | None = Field(
        default=None, description="template-derived capabilities forge predicted"
    )
    path: str | None = Field(
        default=None, description="the prompt path forge predicted for the server"
    )
    warnings: list[str] = Field(default_factory=list)

    @property
    def agrees(self) -> bool:
        return not self.warnings


def compare_capabilities(
    reported: list[str],
    chat_template: str | None,
    *,
    go_template: str | None = None,
    renderer: str | None = None,
    parser: str | None = None,
    model_family: str | None = None,
    server_version: str | None = None,
    name: str | None = None,
) -> CapabilityCheck:
    """Warnings for every tools/thinking difference between the server's list and the template."""

    supports = sorted(chat_template_capabilities(chat_template or "") & set(_WATCHED))
    predicted = predict_server_path(
        go_template=go_template,
        chat_template=chat_template,
        renderer=renderer,
        parser=parser,
        model_family=model_family,
        server_version=server_version,
    )
    check = CapabilityCheck(
        name=name,
        reported=list(reported),
        template_supports=supports,
        predicted=predicted.capabilities,
        path=predicted.path.value,
    )
    label = name or "the model"
    for cap in _WATCHED:
        request = "tools" if cap == "tools" else "think"
        if cap in supports and cap not in reported:
            check.warnings.append(
                f"the model's chat template supports {cap}, but Ollama reports {', '.join(reported) or 'nothing'} "
                f"for {label}: requests with {request} are refused ('does not support {cap}'); write the "
                "Modelfile with forge modelfile --template-path native (Ollama >= 0.30) or a TEMPLATE carrying it"
            )
        elif cap in reported and cap not in supports:
            check.warnings.append(
                f"Ollama reports {cap} for {label}, but the model's chat template shows no {cap} support: "
                f"{request} requests are accepted and the model may not follow them"
            )
    if predicted.capabilities is not None:
        for cap in _WATCHED:
            if (cap in predicted.capabilities) != (cap in reported):
                check.warnings.append(
                    f"forge predicted {cap} {'on' if cap in predicted.capabilities else 'off'} for the "
                    f"{predicted.path.value} path, Ollama reports it {'on' if cap in reported else 'off'}: the "
                    "server took another path (OLLAMA_GO_TEMPLATE set, or a version forge has not read)"
                )
    return check


def check_registered(
    result: Any, host: str | None = None, *, timeout: float | None = None
) -> CapabilityCheck | None:
    """``/api/show`` for a registration (``ollama.register.RegisterResult``) compared with its GGUF.

    None when the registration uploaded no model GGUF (``FROM`` an existing model).
    """

    model = next((Path(f.path) for f in result.files if f.role in ("model", "shard")), None)
    if model is None:
        return None
    info = read_gguf(model)
    shown = (
        show(result.name, host or result.host)
        if timeout is None
        else show(result.name, host or result.host, timeout=timeout)
    )
    body = result.create_request or {}
    return compare_capabilities(
        shown.capabilities,
        info.chat_template,
        go_template=body.get("template"),
        renderer=body.get("renderer"),
        parser=body.get("parser"),
        model_family=info.architecture,
        server_version=result.server_version,
        name=result.name,
    )
