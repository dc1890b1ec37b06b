"""Replaying exchanges recorded from a real Ollama 0.32.15 server (tests/data/ollama_real/).

* :func:`plan`: every record, in an order that rebuilds the recording's server state (the
  files were recorded interleaved: creates before shows, loads before ps, ...);
* :class:`Inputs`: synthetic GGUFs and blobs standing in for the recorded uploads (SmolLM2 ->
  a ChatML llama GGUF that create must rewrite, Gemma -> a base model it keeps, split shards,
  two synthetic projectors, a text file), each bound to the recorded sha256;
* :class:`Digests`: a bijection between recorded and stand-in digests, learned as the replay
  goes (the stand-in's converted layers, params layers and manifests have their own digests);
* :func:`compare`: status, headers that matter, exact error texts and the JSON shape.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "data" / "ollama_real"
HEX = re.compile(r"[0-9a-fA-F]{64}")
FILES = (
    "version",
    "errors",
    "blobs",
    "create",
    "tags",
    "show",
    "copy",
    "generate",
    "chat",
    "ps",
    "delete",
)
#: values that depend on the model files (synthetic here) or on time: compared by type only
VOLATILE = {
    "created_at",
    "modified_at",
    "expires_at",
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
    "context",
    "size",
    "model_info",
    "tensors",
    "projector_info",
    "parameter_size",
    "context_length",
    "embedding_length",
    "response",
    "content",
    "quantization_level",
    "family",
    "families",
}
SMOL_JINJA = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def load(name: str) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for line in (DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        if line
    ]


def _time(record: dict[str, Any]) -> str | None:
    resp = record["response"]
    text = resp.get("body") or (resp.get("lines") or [""])[0]
    m = re.search(r'"created_at":"([^"]+)"', text or "")
    return m.group(1) if m else None


def plan() -> list[tuple[str, dict[str, Any]]]:
    """(file, record) for every record, in replay order."""
    rec = {f: load(f) for f in FILES}
    by = {f: {r["name"]: r for r in rec[f]} for f in FILES}
    out: list[tuple[str, dict[str, Any]]] = []

    def take(f: str, names: list[str] | None = None) -> None:
        for r in rec[f] if names is None else [by[f][n] for n in names]:
            out.append((f, r))

    take("version")
    take("errors")
    take("ps", ["ps-none-loaded"])
    take("tags", ["tags-0-models", "head-tags-0-models"])
    take("blobs")
    creates = rec["create"]
    out.append(("create", creates[0]))
    take("tags", ["tags-1-model"])
    out.append(("create", creates[1]))
    take("tags", ["tags-2-models"])
    out += [("create", r) for r in creates[2:]]
    out += [("show", r) for r in rec["show"] if r["name"] != "after-copy-the-copy"]
    take("copy", ["copy-ok"])
    take("show", ["after-copy-the-copy"])
    out += [("copy", r) for r in rec["copy"] if r["name"] != "copy-ok"]
    # generation: generate and chat merged by their timestamps; ps checks after their anchors
    gen: list[tuple[str, str, int, dict[str, Any]]] = []
    for f in ("generate", "chat"):
        last = ""
        for i, r in enumerate(rec[f]):
            last = _time(r) or last
            gen.append((last, f, i, r))
    gen.sort(key=lambda g: (g[0], g[1], g[2]))
    anchors = {
        ("chat", "model-projector-only-manifest"): "ps-after-chat-tests-several-loaded",
        ("generate", "load-smollm2-empty-prompt-keepalive-10m"): "ps-one-model-smollm2",
        ("generate", "load-gemma-empty-prompt-keepalive-10m"): "ps-two-models",
        ("chat", "prompt-longer-than-num_ctx-32-stream"): "ps-after-num_ctx-32-reload",
        ("generate", "unload-keep_alive-0"): "ps-after-unload-of-gemma",
        ("chat", "unload-keep_alive-0-string"): "ps-after-unload-of-both",
        (
            "chat",
            "model-with-synthetic-projector-load-failure-non-stream",
        ): "ps-after-projector-load-failure",
        ("chat", "runner-killed-mid-stream"): "ps-before-deleting-a-loaded-model",
    }
    take("ps", ["ps-none-loaded-before-load"])
    for _t, f, _i, r in gen:
        out.append((f, r))
        if (f, r["name"]) in anchors:
            take("ps", [anchors[(f, r["name"])]])
            if anchors[(f, r["name"])] == "ps-before-deleting-a-loaded-model":
                take("delete", ["delete-loaded-model"])
                take("ps", ["ps-after-deleting-a-loaded-model"])
    out += [("delete", r) for r in rec["delete"] if r["name"] != "delete-loaded-model"]
    take("tags", ["tags-all-models-end-of-recording"])
    assert len(out) == sum(len(v) for v in rec.values()), "every record is replayed exactly once"
    return out


# --- synthetic inputs -------------------------------------------------------------------------


def _smol_writer(path: Path, *, split: bool) -> list[Path]:
    from gguf import GGMLQuantizationType, GGUFWriter

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(str(path), "llama", split_max_tensors=2 if split else 0)
    writer.add_name("SmolLM2 135M Instruct")
    writer.add_type("model")
    writer.add_file_type(3)  # Q4_1; no general.quantization_version: create rewrites it
    writer.add_context_length(8192)
    writer.add_embedding_length(576)
    writer.add_block_count(1)
    writer.add_head_count(9)
    writer.add_head_count_kv(3)
    tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + [f"t{i}" for i in range(13)]
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_chat_template(SMOL_JINJA)
    writer.add_tensor("output_norm.weight", np.ones((8,), np.float32))
    writer.add_tensor(
        "token_embd.weight", np.zeros((2, 34), np.uint8), raw_dtype=GGMLQuantizationType.Q8_0
    )
    writer.add_tensor(
        "blk.0.attn_q.weight", np.zeros((2, 40), np.uint8), raw_dtype=GGMLQuantizationType.Q4_1
    )
    writer.add_tensor(
        "blk.0.attn_k.weight", np.zeros((2, 40), np.uint8), raw_dtype=GGMLQuantizationType.Q4_1
    )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return sorted(path.parent.glob(f"{path.stem}-*-of-*.gguf")) if split else [path]


def _gguf(path: Path, arch: str, kvs: dict[str, Any], tensors: list[str]) -> Path:
    from gguf import GGUFWriter

    writer = GGUFWriter(str(path), arch)
    for key, value in kvs.items():
        if isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, int):
            writer.add_uint32(key, value)
        else:
            writer.add_string(key, value)
    for name in tensors:
        writer.add_tensor(name, np.zeros((4,), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


class Inputs:
    """Recorded upload sha256 -> the bytes uploaded in its place."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        smol = _smol_writer(folder / "smol.gguf", split=False)[0]
        shards = _smol_writer(folder / "split" / "smol.gguf", split=True)
        gemma = _gguf(
            folder / "gemma.gguf",
            "gemma3",
            {
                "general.type": "model",
                "general.file_type": 15,
                "general.quantization_version": 2,
                "gemma3.context_length": 32768,
                "gemma3.embedding_length": 640,
                "gemma3.block_count": 1,
                "tokenizer.ggml.model": "llama",
            },
            ["token_embd.weight", "output_norm.weight"],
        )
        clip = {
            "general.type": "mmproj",
            "clip.has_vision_encoder": True,
            "clip.vision.block_count": 1,
        }
        mlp = _gguf(
            folder / "mmproj-mlp.gguf",
            "clip",
            {**clip, "clip.projector_type": "mlp"},
            ["mm.0.weight", "v.patch_embd.weight"],
        )
        notype = _gguf(
            folder / "mmproj-notype.gguf", "clip", clip, ["mm.0.weight", "v.patch_embd.weight"]
        )
        self.by_sha: dict[str, bytes] = {
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53": smol.read_bytes(),
            "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818": gemma.read_bytes(),
            "95a86f458996645982d823862e73a2a0c02dbceda0167c810f8e44dae5fe4241": shards[
                0
            ].read_bytes(),
            "ddc6852e6c51d9cfb11122067c663350cc1640f8f98c79680ab17645d0499e2d": shards[
                1
            ].read_bytes(),
            "72b39a75818544c585148c312d523469e36faad1be6924611ae459088bc2853f": mlp.read_bytes(),
            "9f8e7751f7a8f8e7bc2abc3aef9ab370c820c9c1523648529663c1eee9ec485b": notype.read_bytes(),
            "78256fa3dcbbfb17e867e9ff2b437425a0878673379146831f657825fab45237": b"this is not a GGUF file.\n\n\n\n",
            "83f359a44c931a1cebfb32250f07b8782841008d6efd25bf81eacef1a524e9f6": b"32 bytes that are not the model.",
            "3c2dba3889b08ceff4970acb0946014993ed5713c467f425be39d097ec9768a0": b"44 bytes uploaded under a sha256- digest!!!\n",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855": b"",
        }

    def seed(self, digests: Digests) -> None:
        for recorded, data in self.by_sha.items():
            digests.bind(recorded, hashlib.sha256(data).hexdigest())


class Digests:
    """A bijection recorded digest <-> stand-in digest (lower-case hex)."""

    def __init__(self) -> None:
        self.fwd: dict[str, str] = {}
        self.back: dict[str, str] = {}

    def bind(self, recorded: str, actual: str) -> bool:
        r, a = recorded.lower(), actual.lower()
        if self.fwd.get(r, a) != a or self.back.get(a, r) != r:
            return False
        self.fwd[r], self.back[a] = a, r
        return True

    def to_actual(self, text: str) -> str:
        def sub(m: re.Match[str]) -> str:
            got = self.fwd.get(m.group(0).lower(), m.group(0).lower())
            return got.upper() if m.group(0).isupper() and not m.group(0).isdigit() else got

        return HEX.sub(sub, text)

    def same(self, recorded: str, actual: str) -> bool:
        """Equal strings once their digests are bound consistently."""
        rec_parts, act_parts = HEX.split(recorded), HEX.split(actual)
        rec_hex, act_hex = HEX.findall(recorded), HEX.findall(actual)
        if rec_parts != act_parts or len(rec_hex) != len(act_hex):
            return False
        return all(self.bind(r, a) for r, a in zip(rec_hex, act_hex, strict=True))


def request_body(record: dict[str, Any], inputs: Inputs, digests: Digests) -> bytes | None:
    body = record["request"]["body"]
    if body is None:
        return None
    if isinstance(body, dict) and set(body) == {"bytes", "sha256"}:
        return inputs.by_sha[body["sha256"]]
    if isinstance(body, str):
        return digests.to_actual(body).encode()
    return digests.to_actual(json.dumps(body)).encode()


# --- comparison -------------------------------------------------------------------------------


class Mismatch(AssertionError):
    pass


def _norm(text: str, root: str) -> str:
    text = text.replace(root, "/models")
    return re.sub(
        r"lookup (\S+) on \S+: no such host", r"lookup \1 on <resolver>: no such host", text
    )


def _same_type(a: Any, b: Any) -> bool:
    kinds = (bool, int, float, str, list, dict, type(None))
    ka = next(k for k in kinds if isinstance(a, k))
    kb = next(k for k in kinds if isinstance(b, k))
    return ka is kb or {ka, kb} <= {int, float}


def shape(rec: Any, act: Any, path: str, digests: Digests, root: str) -> None:
    key = path.rsplit(".", 1)[-1]
    if key in VOLATILE:
        if not _same_type(rec, act):
            raise Mismatch(
                f"{path}: {type(act).__name__} where the server sent {type(rec).__name__}"
            )
        stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z"
        if (
            key in ("created_at", "modified_at", "expires_at")
            and isinstance(act, str)
            and not re.fullmatch(stamp, act)
        ):
            raise Mismatch(f"{path}: {act!r} is not Go's RFC3339Nano")
        return
    if isinstance(rec, dict):
        if not isinstance(act, dict) or list(rec) != list(act):
            raise Mismatch(
                f"{path}: keys {list(act) if isinstance(act, dict) else type(act).__name__} "
                f"where the server sent {list(rec)}"
            )
        for k in rec:
            shape(rec[k], act[k], f"{path}.{k}", digests, root)
        return
    if isinstance(rec, list):
        if not isinstance(act, list) or len(rec) != len(act):
            raise Mismatch(f"{path}: {act!r} where the server sent {rec!r}")
        for i, (r, a) in enumerate(zip(rec, act, strict=True)):
            shape(r, a, f"{path}[{i}]", digests, root)
        return
    if isinstance(rec, str) and isinstance(act, str):
        if key == "modelfile":
            return _modelfile(rec, act, path, digests, root)
        if key == "parameters":
            rec, act = "\n".join(sorted(rec.splitlines())), "\n".join(sorted(act.splitlines()))
        if not digests.same(_norm(rec, root), _norm(act, root)):
            raise Mismatch(f"{path}: {act!r} where the server sent {rec!r}")
        return
    if rec != act or type(rec) is not type(act):
        raise Mismatch(f"{path}: {act!r} where the server sent {rec!r}")


def _modelfile(rec: str, act: str, path: str, digests: Digests, root: str) -> None:
    """Same lines (PARAMETER lines in any order: Go map order); FROM paths by digest."""

    def split(text: str) -> tuple[list[str], Counter[str]]:
        lines = text.split("\n")
        return [x for x in lines if not x.startswith("PARAMETER ")], Counter(
            x for x in lines if x.startswith("PARAMETER ")
        )

    rec_fixed, rec_params = split(rec)
    act_fixed, act_params = split(_norm(act, root))
    if rec_params != act_params or len(rec_fixed) != len(act_fixed):
        raise Mismatch(f"{path}: {act!r} where the server sent {rec!r}")
    for r, a in zip(rec_fixed, act_fixed, strict=True):
        if not digests.same(r, a):
            raise Mismatch(f"{path}: line {a!r} where the server sent {r!r}")


def compare(
    record: dict[str, Any],
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    digests: Digests,
    root: str,
    request: bytes = b"",
) -> None:
    rec = record["response"]
    if status != rec["status"]:
        raise Mismatch(f"status {status} where the server sent {rec['status']} ({body[:200]!r})")
    got = {k.lower(): v for k, v in headers if k.lower() != "date"}
    want = {k.lower(): v for k, v in rec["headers"].items()}
    size_framed = (
        want.get("transfer-encoding") == "chunked"
        and want.get("content-type", "").startswith("application/json")
        and len(rec.get("body", "")) > 2048
    )
    if size_framed:
        # Go chunks a c.JSON body over 2048 bytes; ours is smaller where the real model files were large
        if (got.get("transfer-encoding") == "chunked") != (len(body) > 2048):
            raise Mismatch("a JSON body framed unlike Go's net/http (chunked above 2048 bytes)")
        got.pop("transfer-encoding", None), got.pop("content-length", None)
        want = {k: v for k, v in want.items() if k != "transfer-encoding"}
    if (
        want.get("connection") == "close"
        and record["name"] == "post-already-present"
        and len(request) <= 256 * 1024
    ):
        want.pop(
            "connection"
        )  # Go keeps the connection when it can drain the unread body (<= 256 KiB)
    for name in (
        "content-type",
        "transfer-encoding",
        "allow",
        "location",
        "vary",
        "connection",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-allow-origin",
        "access-control-max-age",
    ):
        if got.get(name) != want.get(name):
            raise Mismatch(
                f"header {name}: {got.get(name)!r} where the server sent {want.get(name)!r}"
            )
    if ("content-length" in got) != ("content-length" in want):
        raise Mismatch(
            f"Content-Length {'sent' if 'content-length' in got else 'missing'}, unlike the server"
        )
    text = body.decode("utf-8")
    if "lines" in rec:
        _lines(record, text, digests, root)
        return
    want_body = rec.get("body", "")
    if want.get("content-type", "").startswith("application/json") and want_body:
        if record["name"] == "tags-all-models-end-of-recording":
            return _tags_subset(json.loads(want_body), json.loads(text), digests, root)
        if text.endswith("\n"):
            raise Mismatch("a trailing newline after c.JSON's body")
        want_json, got_json = json.loads(want_body), json.loads(text)
        _same_second_order(want_json, got_json)
        shape(want_json, got_json, "body", digests, root)
        if "<" in text or ">" in text or "&" in text:
            raise Mismatch("<, > or & not escaped as Go does (\\u003c)")
        return
    if not digests.same(_norm(want_body, root), _norm(text, root)):
        raise Mismatch(f"body {text[:300]!r} where the server sent {want_body[:300]!r}")


def _same_second_order(want: Any, got: Any) -> None:
    """/api/tags and /api/ps sort by whole seconds only; models within one second come in any
    order (Go map order), and the replay creates/loads within seconds what took minutes."""
    if not (
        isinstance(want, dict) and isinstance(got, dict) and isinstance(got.get("models"), list)
    ):
        return
    for key in ("modified_at", "expires_at"):
        stamps = [m.get(key, "")[:19] for m in got["models"]]
        if (
            stamps
            and all(stamps)
            and len(set(stamps)) == 1
            and len(want.get("models") or []) == len(stamps)
        ):
            want["models"].sort(key=lambda m: m["name"])
            got["models"].sort(key=lambda m: m["name"])


def _lines(record: dict[str, Any], text: str, digests: Digests, root: str) -> None:
    rec_lines = record["response"]["lines"]
    if not text.endswith("\n"):
        raise Mismatch("the stream's last line does not end with a newline")
    act_lines = text[:-1].split("\n")
    rec_objs = [json.loads(x) for x in rec_lines]
    act_objs = [json.loads(x) for x in act_lines]
    if "status" in rec_objs[0]:
        # create: the same status sequence (order free where files has several entries)
        rec_status = [_norm(json.dumps(o), root) for o in rec_objs]
        act_status = [_norm(json.dumps(o), root) for o in act_objs]
        if len(rec_status) != len(act_status):
            raise Mismatch(f"create lines {act_status} where the server sent {rec_status}")
        several = (
            len((record["request"]["body"] or {}).get("files") or {})
            + len((record["request"]["body"] or {}).get("adapters") or {})
            > 1
        )
        pairs = list(zip(rec_status, act_status, strict=True))
        if several:
            rec_sorted = sorted(rec_status, key=lambda s: HEX.sub("", s))
            act_sorted = sorted(act_status, key=lambda s: HEX.sub("", s))
            if [HEX.sub("", s) for s in rec_sorted] != [HEX.sub("", s) for s in act_sorted]:
                raise Mismatch(f"create lines {act_status} where the server sent {rec_status}")
            return
        for r, a in pairs:
            if not digests.same(r, a):
                raise Mismatch(f"create line {a} where the server sent {r}")
        return
    # generation: each streamed line has the shape of the recorded ones; the last line decides
    for a in act_objs[:-1]:
        shape(rec_objs[0], a, "line", digests, root)
    shape(rec_objs[-1], act_objs[-1], "last line", digests, root)


def _tags_subset(rec: dict[str, Any], act: dict[str, Any], digests: Digests, root: str) -> None:
    """The end-of-recording listing: every recorded model is there, with the recorded shape
    (the recorder removed some models it created late; the replay keeps them)."""
    mine = {m["name"]: m for m in act["models"]}
    for m in rec["models"]:
        if m["name"] not in mine:
            raise Mismatch(f"{m['name']} missing from /api/tags")
        shape(m, mine[m["name"]], f"models[{m['name']}]", digests, root)


def when(record: dict[str, Any]) -> datetime | None:
    t = _time(record)
    return datetime.fromisoformat(t[:26].rstrip("Z") + "+00:00") if t else None
