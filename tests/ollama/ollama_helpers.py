"""Shared helpers for the Ollama tests (templates, Modelfiles)."""

from __future__ import annotations

from pathlib import Path

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
GO_CHATML = "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"


def write_modelfile(
    folder: Path,
    from_: str | list[str],
    *,
    template: str | None = GO_CHATML,
    system: str | None = "You are terse.",
    extra: str = "",
) -> Path:
    lines = [f"FROM {f}" for f in ([from_] if isinstance(from_, str) else from_)]
    if template is not None:
        lines.append(f'TEMPLATE """{template}"""')
    if system is not None:
        lines.append(f"SYSTEM {system}")
    lines.append("PARAMETER stop <|im_end|>")
    lines.append("PARAMETER num_ctx 4096")
    if extra:
        lines.append(extra)
    path = folder / "Modelfile"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
