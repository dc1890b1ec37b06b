"""State, name rules and server-side checks of the local Ollama test server (see ollama_server.py)."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

DIGEST_RE = re.compile(r"^sha256[:-][0-9a-fA-F]{64}$")
SPLIT_RE = re.compile(r"^(.*)-(\d{5})-of-(\d{5})\.gguf$")
PART_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$")
NS_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,79}$")
HOST_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}$")
FILE_TYPES = {0: "F32", 1: "F16", 7: "Q8_0", 2: "Q4_0", 15: "Q4_K_M", 14: "Q4_K_S", 17: "Q5_K_M", 18: "Q6_K", 32: "BF16"}


def parse_name(raw: str) -> str | None:
    """Ollama's ParseName + IsValid: the full lower-cased name, or None when invalid."""
    text = raw.split("://", 1)[1] if "://" in raw else raw
    tag = "latest"
    if text.rfind(":") > text.rfind("/"):
        text, _, tag = text.rpartition(":")
    parts = text.split("/")
    if len(parts) > 3:
        return None
    model = parts[-1]
    ns = parts[-2] if len(parts) >= 2 else "library"
    host = parts[0] if len(parts) == 3 else "registry.ollama.ai"
    if not (PART_RE.match(model) and PART_RE.match(tag) and NS_RE.match(ns) and HOST_RE.match(host)):
        return None
    return f"{host}/{ns}/{model}:{tag}".lower()


def display_name(full: str) -> str:
    host, ns, rest = full.split("/", 2)
    out = rest
    if ns != "library" or host != "registry.ollama.ai":
        out = f"{ns}/{out}"
    if host != "registry.ollama.ai":
        out = f"{host}/{out}"
    return out


def valid_path(key: str) -> bool:
    """Go's fs.ValidPath."""
    if key == ".":
        return True
    if not key or key.startswith("/") or key.endswith("/"):
        return False
    return all(seg not in ("", ".", "..") for seg in key.split("/"))


def version_tuple(text: str) -> tuple[int, ...]:
    m = re.match(r"^(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(x) for x in m.groups()) if m else (0, 0, 0)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: Any = None
    bytes_received: int = 0
    status: int | None = None


@dataclass
class Faults:
    #: after this many create status lines, send an in-stream error (HTTP 200)
    create_error_after: int | None = None
    create_error: str = "injected failure"
    #: answer /api/create with this HTTP status and error text before streaming
    create_http_error: tuple[int, str] | None = None
    #: drop the connection after receiving this many bytes of a blob upload
    drop_upload_after: int | None = None
    #: seconds to sleep before answering any request (timeouts)
    delay: float = 0.0


@dataclass
class ModelRecord:
    name: str  # full lower-case key
    display: str
    layers: list[dict[str, Any]]
    template: str = ""
    system: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    license: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    capabilities: list[str] = field(default_factory=list)
    model_info: dict[str, Any] = field(default_factory=dict)
    modified_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    renderer: str = ""
    parser: str = ""

    @property
    def size(self) -> int:
        return sum(int(layer["size"]) for layer in self.layers)

    @property
    def digest(self) -> str:
        manifest = json.dumps({"layers": self.layers, "template": self.template, "system": self.system,
                               "parameters": self.parameters}, sort_keys=True)
        return hashlib.sha256(manifest.encode()).hexdigest()


class OllamaState:
    def __init__(self, root: Path, version: str) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.version = version
        self.models: dict[str, ModelRecord] = {}
        self.running: list[dict[str, Any]] = []
        self.requests: list[RecordedRequest] = []
        self.faults = Faults()
        self.chat_reply = "Hello! I am a test model."
        self.lock = threading.Lock()

    # helpers for tests
    def blob_path(self, digest: str) -> Path:
        return self.blobs / digest.replace(":", "-").lower()

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).exists()

    def model(self, name: str) -> ModelRecord | None:
        key = parse_name(name)
        return self.models.get(key) if key else None

    def set_running(self, entries: list[dict[str, Any]]) -> None:
        """Entries: name, size, size_vram, expires_in (seconds, may be negative) or expires_at, context_length."""
        now = datetime.now(timezone.utc)
        out = []
        for e in entries:
            entry = dict(e)
            if "expires_in" in entry:
                entry["expires_at"] = now + timedelta(seconds=entry.pop("expires_in"))
            entry.setdefault("digest", hashlib.sha256(entry["name"].encode()).hexdigest())
            entry.setdefault("context_length", 4096)
            out.append(entry)
        self.running = out

    def requests_to(self, method: str, prefix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]


def gguf_meta(path: Path) -> dict[str, Any]:
    """The KVs the server needs (gguf-py's reader, like the real server's fs/ggml)."""
    from gguf import GGUFReader

    reader = GGUFReader(path)
    out: dict[str, Any] = {"tensor_count": len(reader.tensors)}
    for key, fieldv in reader.fields.items():
        if key.startswith("GGUF.") or (key.startswith("tokenizer.ggml.") and key != "tokenizer.ggml.model"):
            continue
        try:
            out[key] = fieldv.contents()
        except Exception:
            continue
    return out


class CreateFailed(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def jinja_caps(template: str) -> list[str]:
    caps = []
    if "tools" in template or "tool_call" in template:
        caps.append("tools")
    if "<think>" in template and "</think>" in template:
        caps.append("thinking")
    return caps


def classify(meta: dict[str, Any], adapter: bool) -> str:
    gtype = meta.get("general.type", "")
    arch = meta.get("general.architecture", "")
    if adapter or gtype == "adapter":
        return "adapter"
    blocks = meta.get(f"{arch}.block_count", 0)
    vision = meta.get(f"{arch}.vision.block_count", 0)
    if gtype in ("projector", "mmproj") or (not blocks and vision) or (
        arch == "clip" and not blocks and (meta.get("clip.has_vision_encoder") or meta.get("clip.has_audio_encoder"))
    ):
        return "projector"
    return "model"


def merge_shards(state: OllamaState, shards: list[tuple[str, str, dict[str, Any]]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """v0.30+ split GGUF rules (server/create.go), then one merged model layer."""
    seen: dict[int, str] = {}
    count_expected = None
    for fname, _digest, meta in shards:
        m = SPLIT_RE.match(fname)
        if not m:
            raise CreateFailed(f'split GGUF "{fname}" must use llama.cpp split filename pattern')
        index, count = int(m.group(2)), int(m.group(3))
        if "split.no" not in meta:
            raise CreateFailed(f'split GGUF "{fname}" is missing split.no metadata')
        if "split.count" not in meta:
            raise CreateFailed(f'split GGUF "{fname}" is missing split.count metadata')
        if count != int(meta["split.count"]):
            raise CreateFailed(f'split GGUF "{fname}" filename count {count} does not match metadata count {meta["split.count"]}')
        if index != int(meta["split.no"]) + 1:
            raise CreateFailed(f'split GGUF "{fname}" filename index {index} does not match metadata index {int(meta["split.no"]) + 1}')
        if count_expected is not None and count != count_expected:
            raise CreateFailed(f'split GGUF "{fname}" has {count} shards, expected {count_expected}')
        count_expected = count
        if index < 1 or index > count:
            raise CreateFailed(f'split GGUF "{fname}" has invalid shard index {index}')
        if index in seen:
            raise CreateFailed(f"split GGUF has duplicate shard index {index}")
        seen[index] = fname
    if 1 not in seen:
        raise CreateFailed("split GGUF is missing first shard")
    for i in range(1, (count_expected or 0) + 1):
        if i not in seen:
            raise CreateFailed(f'split GGUF "{seen[1]}" is missing shard {i}')
    ordered = sorted(shards, key=lambda s: s[0])
    digest = "sha256:" + hashlib.sha256("".join(s[1] for s in ordered).encode()).hexdigest()
    size = sum(state.blob_path(s[1]).stat().st_size for s in ordered)
    return {"mediaType": "application/vnd.ollama.image.model", "digest": digest, "size": size,
            "from": ordered[0][0], "shards": len(ordered)}, ordered[0][2]


def instance_for(schema: dict[str, Any]) -> Any:
    """A deterministic value satisfying a (simple) JSON schema."""
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        return {k: instance_for(v) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [instance_for(schema.get("items", {}))]
    return {"string": "hello", "integer": 1, "number": 1.5, "boolean": True}.get(kind or "string", "hello")
