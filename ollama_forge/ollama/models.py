"""``forge list`` / ``forge show`` / ``forge rm``: Ollama's models joined with forge's store."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from ..errors import OllamaConnectionError
from .client import DEFAULT_TIMEOUT, make_client, resolve_host, translate_errors
from .names import ModelName, parse_model_name, same_model

if TYPE_CHECKING:
    from ..store import Registration, Store, StoredModel


class ListedModel(BaseModel):
    name: str
    id: str | None = None
    digest: str | None = None
    size: int | None = None
    modified_at: datetime | None = None
    family: str | None = None
    parameter_size: str | None = None
    quant: str | None = None
    in_ollama: bool = True
    store_name: str | None = None
    repo: str | None = None
    template_source: str | None = None
    registered_at: str | None = None

    def __repr__(self) -> str:
        where = "ollama" if self.in_ollama else "store only"
        return f"ListedModel(name={self.name!r}, quant={self.quant!r}, repo={self.repo!r}, {where})"

    __str__ = __repr__


class ModelList(BaseModel):
    host: str
    ollama_reachable: bool
    message: str | None = None
    models: list[ListedModel] = Field(default_factory=list)

    def __repr__(self) -> str:
        state = "reachable" if self.ollama_reachable else "unreachable"
        return f"ModelList(host={self.host!r}, {state}, models={[m.name for m in self.models]!r})"

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
        return (f"ModelShow(name={self.name!r}, capabilities={self.capabilities!r}, "
                f"parameters={self.parameters!r}, template={len(self.template)} chars)")

    __str__ = __repr__


class RemoveResult(BaseModel):
    name: str
    host: str
    removed: bool
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


def _match(name: str, regs: list[tuple[StoredModel, Registration]]) -> tuple[StoredModel, Registration] | None:
    found = None
    for model, reg in regs:
        if same_model(reg.ollama_name, name):
            found = (model, reg)  # the latest registration wins
    return found


def list_models(host: str | None = None, *, timeout: float = DEFAULT_TIMEOUT, store: Store | None = None) -> ModelList:
    """Ollama's models (``/api/tags``) joined with forge's store; the store alone if Ollama is down."""
    from ..store import Store

    server = resolve_host(host)
    store = store or Store()
    regs = _registrations(store, server)
    try:
        client = make_client(server, timeout=timeout)
        with translate_errors(server, action="listing models"):
            response = client.list()
    except OllamaConnectionError as exc:
        models = []
        for stored in store.list():
            last = stored.registrations[-1] if stored.registrations else None
            models.append(ListedModel(
                name=last.ollama_name if last else stored.name, in_ollama=False, store_name=stored.name,
                repo=stored.repo, quant=stored.quant, template_source=last.template_source if last else None,
                registered_at=last.registered_at if last else None,
            ))
        return ModelList(host=server, ollama_reachable=False, models=models,
                         message=f"{exc.message}; showing forge's store only")
    out = []
    for m in response.models:
        name = str(m.model or "")
        details = m.details
        hit = _match(name, regs)
        known: StoredModel | None = hit[0] if hit else None
        reg: Registration | None = hit[1] if hit else None
        out.append(ListedModel(
            name=name, digest=m.digest, id=(m.digest or "")[:12] or None, size=int(m.size) if m.size is not None else None,
            modified_at=m.modified_at, family=details.family if details else None,
            parameter_size=details.parameter_size if details else None,
            quant=(details.quantization_level if details else None) or (known.quant if known else None),
            store_name=known.name if known else None, repo=known.repo if known else None,
            template_source=reg.template_source if reg else None, registered_at=reg.registered_at if reg else None,
        ))
    return ModelList(host=server, ollama_reachable=True, models=out)


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


def show(name: str, host: str | None = None, *, timeout: float = DEFAULT_TIMEOUT, store: Store | None = None) -> ModelShow:
    """``POST /api/show``: Modelfile, parameters, template, capabilities (+ forge's record)."""
    from ..store import Store
    from .client import OllamaHTTP

    server = resolve_host(host)
    with OllamaHTTP(server, timeout=timeout) as http:
        resp = http.post_json("/api/show", {"model": name}, action=f"showing {name}") or {}
    hit = _match(name, _registrations(store or Store(), server))
    info = resp.get("model_info") or {}
    return ModelShow(
        name=name, modelfile=resp.get("modelfile") or "", parameters=parse_show_parameters(resp.get("parameters") or ""),
        parameters_text=resp.get("parameters") or "", template=resp.get("template") or "",
        system=resp.get("system") or "", license=resp.get("license") or "",
        capabilities=list(resp.get("capabilities") or []), details=dict(resp.get("details") or {}),
        messages=list(resp.get("messages") or []),
        model_info={k: v for k, v in dict(info).items() if not isinstance(v, list) or len(v) <= 16},
        store_name=hit[0].name if hit else None, registration=hit[1].model_dump() if hit else None,
    )


def remove(name: str, host: str | None = None, *, timeout: float = DEFAULT_TIMEOUT, store: Store | None = None) -> RemoveResult:
    """``DELETE /api/delete``; then drop forge's registration records of that name on that host."""
    from ..store import Store

    target: ModelName = parse_model_name(name)
    server = resolve_host(host)
    client = make_client(server, timeout=timeout)
    with translate_errors(server, action=f"removing {name}"):
        client.delete(name)
    store = store or Store()
    removed = 0
    with store.transaction() as data:
        for model in data.models.values():
            keep = [r for r in model.registrations
                    if not (r.host == server and same_model(r.ollama_name, target.display))]
            removed += len(model.registrations) - len(keep)
            model.registrations = keep
    return RemoveResult(name=target.display, host=server, removed=True, store_records_removed=removed)
