"""``forge list`` / ``forge show`` / ``forge rm``: Ollama's models joined with forge's store."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from ..errors import ForgeError, OllamaResponseError
from ..store import Store
from .answers import Malformed, as_dict, as_int, as_str, details_of, models_of, parse_go_time
from .client import DEFAULT_TIMEOUT, OllamaHTTP, malformed, resolve_host
from .names import ModelName, parse_model_name, same_model
from .ps import human_bytes, legacy_sizes, server_version

if TYPE_CHECKING:
    from ..store import Registration, Store, StoredModel


class ListedModel(BaseModel):
    name: str
    id: str | None = None
    digest: str | None = None
    size: int | None = None
    #: SIZE as the server's own ``ollama list`` prints it (its version's HumanBytes)
    size_text: str | None = None
    modified_at: datetime | None = None
    family: str | None = None
    parameter_size: str | None = None
    quant: str | None = None
    store_name: str | None = None
    repo: str | None = None
    template_source: str | None = None
    registered_at: str | None = None

    def __repr__(self) -> str:
        return f"ListedModel(name={self.name!r}, quant={self.quant!r}, repo={self.repo!r})"

    __str__ = __repr__


class ModelList(BaseModel):
    host: str
    server_version: str | None = None
    models: list[ListedModel] = Field(default_factory=list)

    def __repr__(self) -> str:
        return f"ModelList(host={self.host!r}, models={[m.name for m in self.models]!r})"

    __str__ = __repr__


class ModelShow(BaseModel):
    name: str
    modelfile: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)
    parameters_text: str = ""
    template: str = ""
    system: str = ""
    license: str = ""
    capabilities: list[str] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)
    model_info: dict[str, Any] = Field(default_factory=dict)
    messages: list[dict[str, Any]] = Field(default_factory=list)
    store_name: str | None = None
    registration: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return (
            f"ModelShow(name={self.name!r}, capabilities={self.capabilities!r}, "
            f"parameters={self.parameters!r}, template={len(self.template)} chars)"
        )

    __str__ = __repr__


class RemoveResult(BaseModel):
    name: str
    host: str
    removed: bool
    #: whether the model was unloaded first (``keep_alive: 0``, as ``ollama rm`` does)
    unloaded: bool = False
    warning: str | None = None
    store_records_removed: int = 0

    def __repr__(self) -> str:
        return f"RemoveResult(name={self.name!r}, removed={self.removed}, store_records_removed={self.store_records_removed})"

    __str__ = __repr__


def _registrations(store: Store, host: str) -> list[tuple[StoredModel, Registration]]:
    out = []
    for model in store.list():
        for reg in model.registrations:
            if reg.host == host:
                out.append((model, reg))
    return out


def _match(
    name: str, regs: list[tuple[StoredModel, Registration]]
) -> tuple[StoredModel, Registration] | None:
    found = None
    for model, reg in regs:
        if same_model(reg.ollama_name, name):
            found = (model, reg)  # the latest registration wins
    return found


def list_models(
    host: str | None = None, *, timeout: float = DEFAULT_TIMEOUT, store: Store | None = None
) -> ModelList:
    """Ollama's models (``/api/tags``) joined with forge's store.

    Ollama down is an :class:`~ollama_forge.errors.OllamaConnectionError` (``forge list`` exits 1
    like ``ollama list``): forge's store alone cannot say which models Ollama has.
    """

    server = resolve_host(host)
    with OllamaHTTP(server, timeout=timeout) as http:
        data = http.get_json("/api/tags", action="listing models")
        version = server_version(http)
    legacy = legacy_sizes(version)
    regs = _registrations(store or Store(), server)
    out = []
    try:
        for i, entry in enumerate(models_of(data, "/api/tags")):
            field = f"models[{i}]"
            name = as_str(entry.get("model"), f"{field}.model") or as_str(
                entry.get("name"), f"{field}.name"
            )
            digest = as_str(entry.get("digest"), f"{field}.digest") or None
            size = as_int(entry.get("size"), f"{field}.size", optional=True)
            details = details_of(entry, field)
            hit = _match(name, regs)
            known: StoredModel | None = hit[0] if hit else None
            reg: Registration | None = hit[1] if hit else None
            out.append(
                ListedModel(
                    name=name,
                    digest=digest,
                    id=(digest or "")[:12] or None,
                    size=size,
                    size_text=human_bytes(size, legacy=legacy) if size is not None else None,
                    modified_at=parse_go_time(entry.get("modified_at"), f"{field}.modified_at"),
                    family=details["family"],
                    parameter_size=details["parameter_size"],
                    quant=details["quantization_level"] or (known.quant if known else None),
                    store_name=known.name if known else None,
                    repo=known.repo if known else None,
                    template_source=reg.template_source if reg else None,
                    registered_at=reg.registered_at if reg else None,
                )
            )
    except Malformed as exc:
        raise malformed(server, "/api/tags", str(exc)) from None
    return ModelList(host=server, server_version=version, models=out)


def parse_show_parameters(text: str) -> dict[str, Any]:
    """``/api/show`` ``parameters`` (``%-30s %#v`` lines) -> typed dict; ``stop`` becomes a list."""
    import json

    out: dict[str, Any] = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        key, _, raw = line.partition(" ")
        raw = raw.strip()
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        if key == "stop":
            out.setdefault("stop", []).append(value)
        else:
            out[key] = value
    return out


def show(
    name: str,
    host: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    store: Store | None = None,
) -> ModelShow:
    """``POST /api/show``: Modelfile, parameters, template, capabilities (+ forge's record).

    The name is validated first (nothing is sent for an invalid one); ``name`` in the result is
    its normalised form (``g1`` -> ``g1:latest``), as Ollama stores it.
    """

    target = parse_model_name(name)
    server = resolve_host(host)
    with OllamaHTTP(server, timeout=timeout) as http:
        resp = http.post_json("/api/show", {"model": name}, action=f"showing {target.display}")
    hit = _match(name, _registrations(store or Store(), server))
    try:
        return _show_result(target.display, resp, hit)
    except Malformed as exc:
        raise malformed(server, "/api/show", str(exc)) from None


def _show_result(
    display: str, resp: Any, hit: tuple[StoredModel, Registration] | None
) -> ModelShow:
    resp = as_dict(resp, "the answer", optional=False)

    def text(key: str) -> str:
        value = resp.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise Malformed(f"{key} is {type(value).__name__}, not a string")
        return value

    caps = resp.get("capabilities") or []
    if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
        raise Malformed("capabilities is not a list of strings")
    messages = resp.get("messages") or []
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise Malformed("messages is not a list of objects")
    info = as_dict(resp.get("model_info"), "model_info")
    parameters_text = text("parameters")
    return ModelShow(
        name=display,
        modelfile=text("modelfile"),
        parameters=parse_show_parameters(parameters_text),
        parameters_text=parameters_text,
        template=text("template"),
        system=text("system"),
        license=text("license"),
        capabilities=list(caps),
        details=as_dict(resp.get("details"), "details"),
        messages=list(messages),
        model_info={k: v for k, v in info.items() if not isinstance(v, list) or len(v) <= 16},
        store_name=hit[0].name if hit else None,
        registration=hit[1].model_dump() if hit else None,
    )


def remove(
    name: str,
    host: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    store: Store | None = None,
) -> RemoveResult:
    """Unload (``keep_alive: 0``), then ``DELETE /api/delete``, as ``ollama rm`` does; then drop
    forge's registration records of that name on that host.

    Ollama deletes a loaded model's files but keeps its runner (it stays in ``ollama ps`` and
    ``ollama stop`` cannot find it), so the unload must come first.
    """

    target: ModelName = parse_model_name(name)
    server = resolve_host(host)
    unloaded, warning = False, None
    with OllamaHTTP(server, timeout=timeout) as http:
        try:
            http.post_json(
                "/api/generate",
                {"model": name, "keep_alive": 0},
                action=f"unloading {target.display}",
            )
            unloaded = True
        except OllamaResponseError as exc:
            if "not found" not in str(exc.server_error or exc.message).lower():
                warning = (
                    f"unable to stop model '{target.display}' before deleting it: {exc.message}"
                )
        http.request_json(
            "DELETE", "/api/delete", {"model": name}, action=f"removing {target.display}"
        )
    store = store or Store()
    removed = 0
    with store.transaction() as data:
        for model in data.models.values():
            keep = [
                r
                for r in model.registrations
                if not (r.host == server and same_model(r.ollama_name, target.display))
            ]
            removed += len(model.registrations) - len(keep)
            model.registrations = keep
    return RemoveResult(
        name=target.display,
        host=server,
        removed=True,
        unloaded=unloaded,
        warning=warning,
        store_records_removed=removed,
    )


def forget(name: str) -> tuple[bool, int]:
    """``forge rm --store-only``: drop ``name`` from forge's store without asking Ollama.

    Registration records match by Ollama's name rules (``qwen`` is ``qwen:latest``). Returns
    (stored model removed, registration records removed).
    """
    return Store().forget(name, same_model)


def registered_names(target: str, host: str) -> list[str]:
    """Names to try on Ollama for ``target``: the store's registrations for this host first, then the target."""

    names: list[str] = []
    try:
        stored = Store().find(target)
    except ForgeError:
        stored = None
    if stored is not None:
        for reg in reversed(stored.registrations):
            if reg.host.rstrip("/") == host.rstrip("/") and reg.ollama_name not in names:
                names.append(reg.ollama_name)
    if target not in names:
        names.append(target)
    return names
