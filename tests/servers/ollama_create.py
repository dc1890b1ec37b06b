"""``POST /api/create`` of the local Ollama test server, as a recorded 0.32.15 server does it.

:func:`create` returns the status lines and the error (if any); the HTTP layer decides how they
travel (NDJSON stream, or one answer with ``stream: false``). Pre-stream checks live in
:func:`early_error`. Recorded facts reproduced here (tests/data/ollama_real/README.md):

* one ``parsing GGUF`` per file; errors after the first one (bad digest, missing blob, not a
  GGUF, split rules, quantize) end the stream;
* from 0.30 each model GGUF is rewritten (``verifying conversion``): a file that needs it gets
  a ``creating new layer`` digest different from the upload, split shards merge into the layer
  of the unsplit file, a projector without ``clip.projector_type`` is updated;
* a ChatML Jinja is autodetected as the Go ``chatml`` template with its ``stop`` parameters;
* then template, system, license, params and messages layers, each ``creating new layer`` or
  ``using existing layer`` by content digest, ``writing manifest``, ``success``;
* ``from`` copies the base's layers (``using existing layer``) and replaces system/params.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

from .ollama_gojson import dumps
from .ollama_state import (
    CHATML_GO,
    CHATML_STOPS,
    DIGEST_RE,
    FILE_TYPES,
    MEDIA,
    SPLIT_RE,
    CreateFailed,
    ModelRecord,
    OllamaState,
    check_shards,
    classify,
    detect_template,
    display_cased,
    display_name,
    go_caps,
    human_number,
    jinja_caps,
    params_layer,
    parse_name,
)

QUANT_TYPES = ("F32", "F16", "Q4_K_S", "Q4_K_M", "Q8_0")


def early_error(req: dict[str, Any]) -> str | None:
    """Errors answered before the stream starts (400, ``application/json``)."""
    if req.get("from"):
        return None if parse_name(req["from"]) else "invalid model name"
    files = req.get("files")
    if files is None:
        return "neither 'from' or 'files' was specified"
    if not any(str(k).endswith(".gguf") for k in files):
        return "unknown type"
    return None


def create(state: OllamaState, key: str, req: dict[str, Any], lines: list[dict[str, Any]]) -> None:
    """Build the model ``key``; status lines are appended to ``lines``; raises CreateFailed."""
    if req.get("from"):
        record = _from_base(state, key, req, lines)
    else:
        record = _from_files(state, key, req, lines)
    lines.append({"status": "writing manifest"})
    record.display = display_cased(str(req.get("model") or req.get("name")))
    with state.lock:
        state.models[key] = record
    lines.append({"status": "success"})


def _layer(
    state: OllamaState, kind: str, data: bytes, lines: list[dict[str, Any]] | None
) -> dict[str, Any]:
    digest, new = state.put_blob(data)
    if lines is not None:
        lines.append({"status": f"{'creating new' if new else 'using existing'} layer {digest}"})
    return {"mediaType": MEDIA + kind, "digest": digest, "size": len(data)}


def _extra_layers(
    state: OllamaState,
    req: dict[str, Any],
    params: dict[str, Any],
    lines: list[dict[str, Any]],
    *,
    explicit_template: str,
    license_: list[str],
) -> list[dict[str, Any]]:
    out = []
    if explicit_template:
        out.append(_layer(state, "template", explicit_template.encode(), lines))
    if req.get("system"):
        out.append(_layer(state, "system", str(req["system"]).encode(), lines))
    for text in license_:
        out.append(_layer(state, "license", text.encode(), lines))
    if params:
        out.append(_layer(state, "params", params_layer(params), lines))
    if req.get("messages"):
        out.append(_layer(state, "messages", dumps(req["messages"]).encode(), lines))
    return out


def _licenses(req: dict[str, Any]) -> list[str]:
    lic = req.get("license")
    if not lic:
        return []
    return [lic] if isinstance(lic, str) else [str(x) for x in lic]


def _check_template(template: str) -> None:
    if not template:
        return
    from ollama_forge.gotemplate import GoTemplateError, parse  # the Go text/template port

    try:
        parse(template, "")
    except GoTemplateError as exc:
        raise CreateFailed(f"template error: {exc}", 400) from None


def _convert(
    state: OllamaState, paths: list[Path], extra: dict[str, Any] | None = None
) -> tuple[bytes | None, Path]:
    """The rewritten GGUF (llama-quantize COPY): None when it equals the single input file."""
    from .ollama_state import reserialize

    meta = state.gguf(paths[0])[0]
    if len(paths) == 1 and not extra and "general.quantization_version" in meta:
        return None, paths[0]
    with tempfile.TemporaryDirectory(dir=state.root) as tmp:
        out = Path(tmp) / "converted.gguf"
        reserialize(
            paths,
            out,
            {
                **(
                    {}
                    if "general.quantization_version" in meta
                    else {"general.quantization_version": 2}
                ),
                **(extra or {}),
            },
        )
        return out.read_bytes(), paths[0]


def _from_files(
    state: OllamaState, key: str, req: dict[str, Any], lines: list[dict[str, Any]]
) -> ModelRecord:
    files = [(str(k), v, False) for k, v in (req.get("files") or {}).items()]
    files += [(str(k), v, True) for k, v in (req.get("adapters") or {}).items()]
    drafts = {str(k) for k in (req.get("draft_files") or {})}
    files += [(k, v, False) for k, v in (req.get("draft_files") or {}).items()]
    parsed: list[dict[str, Any]] = []
    grouped: set[str] = set()
    quantize = str(req.get("quantize") or "").upper()
    for fname, digest, is_adapter in files:
        lines.append({"status": "parsing GGUF"})
        entry = _open(state, fname, digest, is_adapter)
        if quantize:
            if quantize not in QUANT_TYPES:
                raise CreateFailed(
                    f"unsupported quantization type {quantize} - supported types are {', '.join(QUANT_TYPES)}"
                )
            if entry["meta"].get("general.file_type") not in (0, 1, 32):
                raise CreateFailed("quantization is only supported for F16, BF16 and F32 models")
        if (
            state.llama_server
            and ("split.count" in entry["meta"] or "split.no" in entry["meta"])
            and fname not in grouped
        ):
            group = [(f, d) for f, d, a in files if not a]
            shards = []
            for f, d in group:
                other = entry if f == fname else _open(state, f, d, False)
                if (
                    "split.count" in other["meta"]
                    or "split.no" in other["meta"]
                    or SPLIT_RE.match(f)
                ):
                    shards.append((f, d, other["meta"]))
            check_shards(shards)
            grouped.update(f for f, _d, _m in shards)
        if fname in drafts:
            entry["kind"] = "draft"
        parsed.append(entry)

    models = [
        e
        for e in parsed
        if e["kind"] == "model" and (e["name"] not in grouped or e["name"] == min(grouped))
    ]
    for e in models:
        if e["name"] in grouped:  # the merged model: every shard's tensors, no split.* keys
            e["tensors"] = [
                t
                for x in sorted(parsed, key=lambda x: x["name"])
                if x["name"] in grouped
                for t in x["tensors"]
            ]
            e["meta"] = {k: v for k, v in e["meta"].items() if not k.startswith("split.")}
    projectors = [e for e in parsed if e["kind"] == "projector"]
    adapters = [e for e in parsed if e["kind"] == "adapter"]
    if state.llama_server:
        # a full model given as an adapter is verified too (recorded)
        for _ in models + [e for e in adapters if classify(e["meta"], False) == "model"]:
            lines.append({"status": "verifying conversion"})
    template = str(req.get("template") or "")
    _check_template(template)
    layers: list[dict[str, Any]] = []
    for e in projectors:
        if state.llama_server and "clip.projector_type" not in e["meta"]:
            lines.append({"status": "updating GGUF projector metadata"})

    def model_layer(e: dict[str, Any]) -> dict[str, Any]:
        if not state.llama_server:
            return _existing(state, e, "model", lines)
        paths = (
            [state.blob_path(d) for f, d, _a in sorted(files) if f in grouped]
            if e["name"] in grouped
            else [e["path"]]
        )
        data, _ = _convert(state, paths)
        return (
            _existing(state, e, "model", lines)
            if data is None
            else _layer(state, "model", data, lines)
        )

    for e in models:
        if e["name"] not in grouped:
            layers.append(model_layer(e))
    for e in projectors:
        data = None
        if state.llama_server and "clip.projector_type" not in e["meta"]:
            data, _ = _convert(state, [e["path"]], {"clip.projector_type": "mlp"})
        layers.append(
            _existing(state, e, "projector", lines)
            if data is None
            else _layer(state, "projector", data, lines)
        )
    # merged shards are written after the other files (recorded: a projector's layer line comes first)
    for e in models:
        if e["name"] in grouped:
            layers.append(model_layer(e))

    first = models[0]["meta"] if models else {}
    last = models[-1] if models else None
    params: dict[str, Any] = {}
    native = ""
    auto = ""
    if not template and first.get("tokenizer.chat_template"):
        name = detect_template(str(first["tokenizer.chat_template"]))
        if name == "chatml":
            lines.append({"status": "using autodetected template chatml"})
            auto = CHATML_GO
            params["stop"] = list(CHATML_STOPS)
        elif state.llama_server:
            native = str(first["tokenizer.chat_template"])
    if auto:
        layers.append(_layer(state, "template", auto.encode(), None))
    for e in adapters:
        layers.append(_existing(state, e, "adapter", lines))
    for e in parsed:
        if e["kind"] == "draft":
            layers.append(_existing(state, e, "draft", lines))
    params.update(req.get("parameters") or {})
    layers += _extra_layers(
        state, req, params, lines, explicit_template=template, license_=_licenses(req)
    )

    caps = [str(c) for c in ((req.get("info") or {}).get("capabilities") or [])]
    if models:
        caps.append("completion")
    caps += (
        jinja_caps(native) if native else [c for c in go_caps(template or auto) if c != "thinking"]
    )
    if projectors:
        caps.append("vision")
    if not native and "thinking" in go_caps(template or auto):
        caps.append("thinking")
    details = _details([m["meta"] for m in models], [m["tensors"] for m in models])
    record = ModelRecord(
        name=key,
        display=display_name(key),
        layers=layers,
        template=template or auto or native,
        go_template=bool(template or auto),
        chat_template=str(first.get("tokenizer.chat_template") or ""),
        system=str(req.get("system") or ""),
        parameters=params,
        messages=list(req.get("messages") or []),
        license=_licenses(req),
        details=details,
        capabilities=caps,
        model_info=_model_info(last["meta"], last["tensors"]) if last else {},
        tensors=[{k: t[k] for k in ("name", "type", "shape")} for t in last["tensors"]]
        if last
        else [],
        projector_info={k: v for k, v in projectors[0]["meta"].items() if k != "general.name"}
        if projectors
        else None,
        renderer=str(req.get("renderer") or ""),
        parser=str(req.get("parser") or ""),
        requires=str(req.get("requires") or ""),
    )
    if last:
        arch = last["meta"].get("general.architecture", "")
        record.context_length = last["meta"].get(f"{arch}.context_length")
        record.embedding_length = last["meta"].get(f"{arch}.embedding_length")
    return record


def _open(state: OllamaState, fname: str, digest: Any, is_adapter: bool) -> dict[str, Any]:
    if not isinstance(digest, str) or not DIGEST_RE.match(digest):
        raise CreateFailed("invalid digest format")
    path = state.blob_path(digest)
    if not path.exists():
        raise CreateFailed(f"open {path}: no such file or directory")
    with open(path, "rb") as handle:
        if handle.read(4) != b"GGUF":
            raise CreateFailed("supplied file was not in GGUF format")
    meta, tensors = state.gguf(path)
    kind = (
        "adapter"
        if is_adapter and meta.get("general.type") == "adapter"
        else classify(meta, is_adapter)
    )
    if is_adapter and kind == "model":
        kind = "adapter"  # a full model given as an adapter is stored as one (recorded)
    return {
        "name": fname,
        "digest": digest,
        "path": path,
        "meta": meta,
        "tensors": tensors,
        "kind": kind,
        "adapter": is_adapter,
    }


def _existing(
    state: OllamaState, e: dict[str, Any], kind: str, lines: list[dict[str, Any]]
) -> dict[str, Any]:
    digest = "sha256:" + str(e["digest"]).split(":", 1)[-1].split("-", 1)[-1].lower()
    lines.append({"status": f"using existing layer {digest}"})
    return {
        "mediaType": MEDIA + kind,
        "digest": digest,
        "size": e["path"].stat().st_size,
        "from": e["name"],
    }


def _details(metas: list[dict[str, Any]], tensors: list[list[dict[str, Any]]]) -> dict[str, Any]:
    if not metas:
        return {
            "parent_model": "",
            "format": "",
            "family": "",
            "families": None,
            "parameter_size": "",
            "quantization_level": "",
        }
    first = metas[0]
    count = first.get("general.parameter_count") or sum(t["elements"] for t in tensors[0])
    return {
        "parent_model": "",
        "format": "gguf",
        "family": first.get("general.architecture", ""),
        "families": [m.get("general.architecture", "") for m in metas],
        "parameter_size": human_number(int(count)),
        "quantization_level": FILE_TYPES.get(
            first.get("general.file_type", -1), str(first.get("general.file_type", ""))
        ),
    }


def _model_info(meta: dict[str, Any], tensors: list[dict[str, Any]]) -> dict[str, Any]:
    out = {
        k: v
        for k, v in meta.items()
        if not k.startswith("split.") and k not in ("general.name", "tokenizer.chat_template")
    }
    out.setdefault("general.parameter_count", sum(t["elements"] for t in tensors))
    return out


def _from_base(
    state: OllamaState, key: str, req: dict[str, Any], lines: list[dict[str, Any]]
) -> ModelRecord:
    base = state.model(req["from"])
    if base is None or not base.runnable:
        full = parse_name(req["from"]) or ""
        host, ns, rest = full.split("/", 2)
        model, _, tag = rest.partition(":")
        lines.append({"status": "pulling manifest"})
        raise CreateFailed(
            f'pull model manifest: Get "https://{host}/v2/{ns}/{model}/manifests/{tag}": '
            f"dial tcp: lookup {host} on {state.resolver}: no such host"
        )
    replaced = (
        {"params"}
        | ({"system"} if req.get("system") else set())
        | ({"template"} if req.get("template") else set())
    )
    replaced |= {"messages"} if req.get("messages") else set()
    replaced |= {"license"} if req.get("license") else set()
    layers = []
    for layer in base.layers:
        if layer["mediaType"][len(MEDIA) :] in replaced:
            continue
        lines.append({"status": f"using existing layer {layer['digest']}"})
        layers.append(dict(layer))
    params = {**base.parameters, **(req.get("parameters") or {})}
    template = str(req.get("template") or "")
    _check_template(template)
    layers += _extra_layers(
        state, req, params, lines, explicit_template=template, license_=_licenses(req)
    )
    record = ModelRecord(**{**base.__dict__})
    record.name, record.display, record.layers = key, display_name(key), layers
    record.parameters = params
    record.system = str(req.get("system") or base.system)
    record.template = template or base.template
    record.go_template = bool(template) or base.go_template
    record.messages = list(req.get("messages") or base.messages)
    record.license = _licenses(req) or list(base.license)
    record.details = {
        **base.details,
        "parent_model": display_name(parse_name(req["from"]) or base.name),
    }
    from datetime import datetime, timezone

    record.modified_at = datetime.now(timezone.utc)
    return record


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
