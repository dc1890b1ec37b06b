"""State, name rules and GGUF handling of the local Ollama test server (see ollama_server.py).

Behaviour follows the exchanges recorded from a real Ollama 0.32.15 server
(tests/data/ollama_real/README.md); older versions are played where forge branches on them.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .ollama_gojson import GoMap, dumps

DIGEST_RE = re.compile(r"^sha256[:-][0-9a-fA-F]{64}$")
SPLIT_RE = re.compile(r"^(.*)-(\d{5})-of-(\d{5})\.gguf$")
PART_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$")
NS_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,79}$")
HOST_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}$")
FILE_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    32: "BF16",
}
TENSOR_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    6: "Q5_0",
    7: "Q5_1",
    8: "Q8_0",
    10: "Q2_K",
    11: "Q3_K",
    12: "Q4_K",
    13: "Q5_K",
    14: "Q6_K",
    30: "BF16",
}
MEDIA = "application/vnd.ollama.image."
CONFIG_MEDIA = "application/vnd.docker.container.image.v1+json"
#: Ollama's chatml Go template and its stop parameters (template/chatml.gotmpl, chatml.json)
CHATML_GO = "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"
CHATML_STOPS = ["<|im_start|>", "<|im_end|>"]
DEFAULT_KEEP_ALIVE = 300.0


def parse_name(raw: str) -> str | None:
    """Ollama's ParseName + IsValid: the full lower-cased name, or None when invalid."""
    if not isinstance(raw, str):
        return None
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
    if not (
        PART_RE.match(model) and PART_RE.match(tag) and NS_RE.match(ns) and HOST_RE.match(host)
    ):
        return None
    return f"{host}/{ns}/{model}:{tag}".lower()


def display_cased(raw: str) -> str:
    """The display name of a valid ``raw`` with its case kept (Ollama stores names as created)."""
    key = parse_name(raw)
    assert key is not None
    text = raw.split("://", 1)[1] if "://" in raw else raw
    if not (text.rfind(":") > text.rfind("/")):
        text += ":latest"
    parts = text.split("/")
    full = "/".join(
        (["registry.ollama.ai", "library"][: 3 - len(parts)] + parts) if len(parts) < 3 else parts
    )
    return display_name(full)


def display_name(full: str) -> str:
    host, ns, rest = full.split("/", 2)
    out = rest
    if ns != "library" or host != "registry.ollama.ai":
        out = f"{ns}/{out}"
    if host != "registry.ollama.ai":
        out = f"{host}/{out}"
    return out


def display_as_typed(raw: str) -> str:
    """The name as typed with the default tag added (``nope`` -> ``nope:latest``), case kept."""
    return raw if raw.rfind(":") > raw.rfind("/") else f"{raw}:latest"


def full_as_typed(raw: str) -> str:
    """registry.ollama.ai/library/<model>:<tag> with the user's case (capability errors)."""
    text = display_as_typed(raw)
    parts = text.split("/")
    if len(parts) == 1:
        return f"registry.ollama.ai/library/{text}"
    if len(parts) == 2:
        return f"registry.ollama.ai/{text}"
    return text


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


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_keep_alive(value: Any) -> float | None:
    """api.Duration: seconds (number) or a Go duration string; ValueError with Go's text."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("json: cannot unmarshal bool into Go value of type api.Duration")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value)
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    pos, total = 0, 0.0
    for m in _DURATION.finditer(body):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not body or pos != len(body):
        from .ollama_gojson import go_quote

        raise ValueError(f"time: invalid duration {go_quote(text)}")
    return -total if text.startswith("-") else total


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: Any = None
    bytes_received: int = 0
    status: int | None = None
    #: wall-clock times (time.time()) the request line arrived and the answer was sent
    started: float = 0.0
    finished: float = 0.0


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
    #: the model never emits an end token (only num_predict or the client ends a reply)
    endless_generation: bool = False
    #: seconds between generated tokens
    token_delay: float = 0.0
    #: the runner dies after this many streamed tokens (error line inside the 200 stream)
    kill_runner_after: int | None = None
    #: the runner process dies at load with this signal (recorded: "illegal instruction" on a VM
    #: that advertises AMX it cannot run)
    runner_signal: str | None = None
    #: replace the JSON body of these GET paths (hostile or malformed answers)
    raw_answers: dict[str, bytes] = field(default_factory=dict)


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
    tensors: list[dict[str, Any]] = field(default_factory=list)
    projector_info: dict[str, Any] | None = None
    modified_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    renderer: str = ""
    parser: str = ""
    requires: str = ""
    #: the template is a Go TEMPLATE (explicit or autodetected), not the GGUF's Jinja (native)
    go_template: bool = False
    #: the model GGUF's tokenizer.chat_template (v0.30+ compares its capabilities with the TEMPLATE's)
    chat_template: str = ""
    context_length: int | None = None
    embedding_length: int | None = None

    def kind(self, kind: str) -> list[dict[str, Any]]:
        return [layer for layer in self.layers if layer["mediaType"] == MEDIA + kind]

    @property
    def runnable(self) -> bool:
        """Has a model layer (a projector-only manifest has none); a record built by a test
        without layers counts as a model."""
        return bool(self.kind("model")) or not self.layers

    @property
    def config(self) -> bytes:
        return dumps(
            {
                "model_format": "gguf",
                "model_family": self.details.get("family", ""),
                "model_families": self.details.get("families"),
                "model_type": self.details.get("parameter_size", ""),
                "file_type": self.details.get("quantization_level", ""),
                "renderer": self.renderer,
                "parser": self.parser,
                "requires": self.requires,
            }
        ).encode()

    @property
    def manifest(self) -> bytes:
        config = self.config
        return dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {
                    "mediaType": CONFIG_MEDIA,
                    "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                    "size": len(config),
                },
                "layers": [
                    {"mediaType": x["mediaType"], "digest": x["digest"], "size": x["size"]}
                    for x in self.layers
                ],
            }
        ).encode()

    @property
    def size(self) -> int:
        return sum(int(layer["size"]) for layer in self.layers) + len(self.config)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.manifest).hexdigest()


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
        #: scripted replies of the fake model: the last message's text, or (model, text), -> the
        #: whole reply (an end-of-generation token follows it)
        self.replies: dict[Any, str] = {}
        #: whether the server has a GPU (size_vram == size) or runs on the CPU (size_vram 0)
        self.gpu = True
        #: what a pull of an unknown `from` reports (no network here)
        self.resolver = "127.0.0.53:53"
        self.lock = threading.Lock()
        self._meta: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}

    @property
    def llama_server(self) -> bool:
        """v0.30+: the llama-server engine (create rewrites GGUFs, native Jinja, merged shards)."""
        return version_tuple(self.version) >= (0, 30, 0) or version_tuple(self.version) == (0, 0, 0)

    # helpers for tests
    def blob_path(self, digest: str) -> Path:
        """The blob file; the name keeps the digest's case (Ollama's paths are case-sensitive)."""
        return self.blobs / digest.replace(":", "-", 1)

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).exists()

    def put_blob(self, data: bytes) -> tuple[str, bool]:
        """Store ``data``; its digest and whether it was new."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        target = self.blob_path(digest)
        if target.exists():
            return digest, False
        with tempfile.NamedTemporaryFile(dir=self.blobs, delete=False, prefix=".partial-") as tmp:
            tmp.write(data)
        Path(tmp.name).replace(target)
        return digest, True

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

    def gguf(self, path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """KVs (arrays included) and tensors of a stored blob, read once."""
        key = str(path)
        if key not in self._meta:
            self._meta[key] = gguf_meta(path)
        return self._meta[key]


def gguf_meta(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The KVs and tensor list (gguf-py's reader, like the real server's fs/ggml)."""
    from gguf import GGUFReader

    reader = GGUFReader(path)
    kvs: dict[str, Any] = {}
    for key, fieldv in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        try:
            kvs[key] = fieldv.contents()
        except Exception:
            continue
    tensors = [
        {
            "name": t.name,
            "type": TENSOR_TYPES.get(int(t.tensor_type), str(int(t.tensor_type))),
            "shape": [int(x) for x in t.shape],
            "elements": int(t.n_elements),
        }
        for t in reader.tensors
    ]
    return kvs, tensors


def reserialize(paths: list[Path], out: Path, extra: dict[str, Any] | None = None) -> None:
    """What llama-quantize COPY does for the stand-in: one GGUF of the files' KVs (split.* dropped)
    and tensors, ``general.quantization_version`` ensured, ``extra`` KVs added."""
    from gguf import GGUFReader, GGUFValueType, GGUFWriter

    readers = [GGUFReader(p) for p in paths]
    first = readers[0]
    writer = GGUFWriter(str(out), str(first.fields["general.architecture"].contents()))
    for key, fieldv in first.fields.items():
        if (
            key.startswith(("GGUF.", "split."))
            or key == "general.architecture"
            or key in (extra or {})
        ):
            continue
        writer.add_key_value(
            key,
            fieldv.contents(),
            fieldv.types[0],
            fieldv.types[1] if len(fieldv.types) > 1 else None,
        )
    for key, value in (extra or {}).items():
        writer.add_key_value(
            key, value, GGUFValueType.STRING if isinstance(value, str) else GGUFValueType.UINT32
        )
    for reader in readers:
        for tensor in reader.tensors:
            writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


class CreateFailed(Exception):
    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


def go_caps(template: str) -> list[str]:
    """Capabilities Ollama reads from a Go TEMPLATE: .Tools, .Suffix, and thinking tags
    (thinking.InferTags, ported in ollama_forge and checked against Go's in tests/gotemplate)."""
    from ollama_forge.fidelity.ollama_prompt import infer_thinking_tags, ollama_parse

    caps = [c for c, m in (("tools", ".Tools"), ("insert", ".Suffix")) if m in template]
    if template:
        opening, closing = infer_thinking_tags(ollama_parse(template))
        if opening and closing:
            caps.append("thinking")
    return caps


def jinja_caps(template: str) -> list[str]:
    caps = []
    if "tools" in template or "tool_call" in template:
        caps.append("tools")
    if "<think>" in template and "</think>" in template:
        caps.append("thinking")
    return caps


def detect_template(jinja: str) -> str | None:
    """template.Named for the one family the recordings show: a short ChatML Jinja -> chatml.

    (Ollama matches by Levenshtein distance < 100 against 37 index entries; a plain ChatML
    template without tools is what matches ``chatml`` there.)
    """
    if (
        "<|im_start|>" in jinja
        and "<|im_end|>" in jinja
        and len(jinja) < 1200
        and not jinja_caps(jinja)
    ):
        return "chatml"
    return None


def classify(meta: dict[str, Any], adapter: bool) -> str:
    gtype = meta.get("general.type", "")
    arch = meta.get("general.architecture", "")
    if gtype == "adapter" or (adapter and gtype == "adapter"):
        return "adapter"
    blocks = meta.get(f"{arch}.block_count", 0)
    vision = meta.get(f"{arch}.vision.block_count", 0)
    if (
        gtype in ("projector", "mmproj")
        or (not blocks and vision)
        or (
            arch == "clip"
            and not blocks
            and (meta.get("clip.has_vision_encoder") or meta.get("clip.has_audio_encoder"))
        )
    ):
        return "projector"
    return "model"


def check_shards(shards: list[tuple[str, str, dict[str, Any]]]) -> None:
    """v0.30+ split GGUF rules (server/create.go), as the recorded 0.32.15 words them."""
    seen: dict[int, str] = {}
    expected = None
    for fname, _digest, meta in shards:
        m = SPLIT_RE.match(fname)
        if not m:
            raise CreateFailed(f'split GGUF "{fname}" must use llama.cpp split filename pattern')
        index, count = int(m.group(2)) - 1, int(m.group(3))
        if "split.no" not in meta:
            raise CreateFailed(f'split GGUF "{fname}" is missing split.no metadata')
        if "split.count" not in meta:
            raise CreateFailed(f'split GGUF "{fname}" is missing split.count metadata')
        if count != int(meta["split.count"]):
            raise CreateFailed(
                f'split GGUF "{fname}" filename count {count} does not match metadata count {meta["split.count"]}'
            )
        if index != int(meta["split.no"]):
            raise CreateFailed(
                f'split GGUF "{fname}" filename index {index} does not match metadata index {int(meta["split.no"])}'
            )
        expected = count if expected is None else expected
        if index in seen:
            raise CreateFailed(f"split GGUF has duplicate shard index {index}")
        seen[index] = fname
    if expected is not None and len(shards) != expected:
        raise CreateFailed(
            f'split GGUF "{shards[0][0]}" has {len(shards)} shards, expected {expected}'
        )
    if 0 not in seen:
        raise CreateFailed("split GGUF is missing first shard")


def human_number(n: int) -> str:
    """format.HumanNumber (parameter_size)."""
    if n >= 1_000_000_000:
        v = n / 1e9
        return f"{v:.0f}B" if v == int(v) else f"{v:.1f}B"
    if n >= 1_000_000:
        v = n / 1e6
        return f"{v:.0f}M" if v == int(v) else f"{v:.2f}M"
    if n >= 1000:
        return f"{n / 1000:.0f}K"
    return str(n)


def instance_for(schema: dict[str, Any]) -> Any:
    """A deterministic value satisfying a (simple) JSON schema."""
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        return {k: instance_for(v) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [instance_for(schema.get("items", {}))]
    return {"string": "hello", "integer": 1, "number": 1.5, "boolean": True}.get(
        kind or "string", "hello"
    )


def params_layer(params: dict[str, Any]) -> bytes:
    """The params layer: json.Marshal of a Go map (sorted keys)."""
    return dumps(GoMap(params)).encode()
