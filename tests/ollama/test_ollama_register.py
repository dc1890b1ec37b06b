"""forge.register against the local Ollama server: requests, digest reuse, errors, store consistency."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from ollama_helpers import GO_CHATML, write_modelfile
from servers.ollama_server import OllamaServer

from ollama_forge.digests import DISK_READS
from ollama_forge.errors import (
    ModelNameError,
    ModelNotFoundError,
    OllamaConnectionError,
    OllamaResponseError,
    UnsafeNameError,
)
from ollama_forge.store import Store, StoredFile, StoredModel
from ollama_forge.workflows.register import register


def sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_first_registration_requests_exactly_like_ollama_create(
    server: OllamaServer, chatml_gguf: Path
) -> None:
    mf = write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf")
    digest = sha(chatml_gguf)
    result = register("tiny", modelfile=mf)

    reqs = [(r.method, r.path) for r in server.state.requests]
    assert reqs == [
        ("GET", "/api/version"),
        ("HEAD", f"/api/blobs/{digest}"),
        ("POST", f"/api/blobs/{digest}"),
        ("POST", "/api/create"),
    ]
    upload = server.state.requests[2]
    assert upload.bytes_received == chatml_gguf.stat().st_size
    assert upload.status == 201
    create = server.state.requests[3].json
    assert create == {
        "model": "tiny:latest",
        "files": {"tiny-q4_k_m.gguf": digest},
        "template": GO_CHATML,
        "system": "You are terse.",
        "parameters": {"stop": ["<|im_end|>"], "num_ctx": 4096},
        "stream": True,
    }
    assert result.name == "tiny:latest"
    assert result.server_version == "0.33.0"
    assert result.statuses[-1] == "success"
    assert [f.uploaded for f in result.files] == [True]
    # the server really has the model now
    assert server.state.model("tiny") is not None
    # recorded in the store, after success
    stored = Store().get("tiny")
    assert [r.ollama_name for r in stored.registrations] == ["tiny:latest"]
    assert stored.registrations[0].host == server.url
    assert f"FROM {chatml_gguf}" in stored.registrations[0].modelfile
    assert stored.registrations[0].template_source == "user"


def test_reregister_with_new_system_reads_zero_weight_bytes(
    server: OllamaServer, chatml_gguf: Path
) -> None:
    mf = write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf")
    size = chatml_gguf.stat().st_size
    before = DISK_READS.bytes_read
    first = register("tiny", modelfile=mf)
    # an unknown local file: hashed once, uploaded once
    assert first.bytes_hashed == size
    assert first.bytes_uploaded == size
    assert DISK_READS.bytes_read - before == 2 * size

    server.state.requests.clear()
    before = DISK_READS.bytes_read
    second = register("tiny", modelfile=mf, system="Answer in French.")
    assert DISK_READS.bytes_read - before == 0
    assert second.bytes_read == 0
    assert [f.digest_source for f in second.files] == ["trusted"]
    assert [f.uploaded for f in second.files] == [False]
    methods = [(r.method, r.path.split("/")[2]) for r in server.state.requests]
    assert ("POST", "blobs") not in methods
    assert server.state.requests[-1].json["system"] == "Answer in French."
    assert server.state.model("tiny").system == "Answer in French."


def test_two_step_flow_from_store_reads_each_file_once(
    server: OllamaServer, chatml_gguf: Path
) -> None:
    """pull-gguf records hub-verified digests; register NAME then only uploads."""
    store = Store()
    size = chatml_gguf.stat().st_size
    mf = write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf")
    store.put(
        StoredModel(
            name="tiny",
            repo="owner/tiny-GGUF",
            quant="Q4_K_M",
            files=[StoredFile(path=str(chatml_gguf), size=size, sha256=sha(chatml_gguf)[7:])],
            modelfile_path=str(mf),
        )
    )
    store.remember_sha256(chatml_gguf, sha(chatml_gguf)[7:], source="hub-verified")

    before = DISK_READS.bytes_read
    result = register("tiny")
    assert DISK_READS.bytes_read - before == size
    assert result.bytes_hashed == 0
    assert result.store_name == "tiny"
    assert Store().get("tiny").registrations[-1].ollama_name == "tiny:latest"


def test_dry_run_sends_nothing_and_prints_exact_requests(
    server: OllamaServer, chatml_gguf: Path
) -> None:
    mf = write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf")
    result = register("me/tiny:q4", modelfile=mf, dry_run=True)
    assert server.state.requests == []
    digest = sha(chatml_gguf)
    assert [(r.method, r.url) for r in result.requests] == [
        ("HEAD", f"{server.url}/api/blobs/{digest}"),
        ("POST", f"{server.url}/api/blobs/{digest}"),
        ("POST", f"{server.url}/api/create"),
    ]
    assert result.requests[-1].json_body["model"] == "me/tiny:q4"
    assert result.requests[-1].json_body["files"] == {"tiny-q4_k_m.gguf": digest}
    assert Store().find("tiny") is None  # nothing recorded


def test_invalid_name_fails_before_any_request(server: OllamaServer, chatml_gguf: Path) -> None:
    mf = write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf")
    for bad in ("bad name", "-lead", "ns.with.dot/model", "m:" + "t" * 81, "a/b/c/d"):
        with pytest.raises(ModelNameError):
            register(bad, modelfile=mf)
    assert server.state.requests == []


def test_in_stream_error_is_an_error_and_store_unchanged(
    server: OllamaServer, chatml_gguf: Path
) -> None:
    mf = write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf")
    server.state.faults.create_error_after = 2
    server.state.faults.create_error = "llama-quantize failed: out of disk space"
    with pytest.raises(OllamaResponseError) as info:
        register("tiny", modelfile=mf)
    assert info.value.status == -1
    assert "out of disk space" in info.value.message
    assert server.url in info.value.message
    assert Store().find("tiny") is None or Store().get("tiny").registrations == []
    assert server.state.model("tiny") is None


def test_http_error_carries_server_text(server: OllamaServer, chatml_gguf: Path) -> None:
    mf = write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf")
    server.state.faults.create_http_error = (500, "something broke on the server")
    with pytest.raises(OllamaResponseError) as info:
        register("tiny", modelfile=mf)
    assert info.value.status == 500
    assert "something broke on the server" in info.value.message


def test_lfs_pointer_is_refused_before_upload(server: OllamaServer, tmp_path: Path) -> None:
    """A Git-LFS pointer saved as .gguf: forge checks the magic before any upload."""
    from ollama_forge.errors import NotGGUFError

    fake = tmp_path / "pointer.gguf"
    fake.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n")
    with pytest.raises(NotGGUFError, match="Git-LFS pointer"):
        register("tiny", modelfile=write_modelfile(tmp_path, "./pointer.gguf"))
    assert [r.method for r in server.state.requests] == ["GET"] or server.state.requests == []


def test_server_magic_check_arrives_in_stream(server: OllamaServer, tmp_path: Path) -> None:
    """The server-side GGUF magic check is an error line inside the 200 stream."""
    from ollama_forge.ollama.client import OllamaHTTP

    fake = tmp_path / "pointer.gguf"
    fake.write_bytes(b"not a gguf at all")
    with OllamaHTTP() as http:
        assert http.upload_blob(sha(fake), fake) == 201
        assert http.blob_exists(sha(fake))
        with pytest.raises(OllamaResponseError) as info:
            list(http.create({"model": "x", "files": {"pointer.gguf": sha(fake)}}))
    assert info.value.status == -1
    assert "supplied file was not in GGUF format" in info.value.message


def test_blob_digest_errors_carry_server_text(server: OllamaServer, tmp_path: Path) -> None:
    from ollama_forge.ollama.client import OllamaHTTP

    f = tmp_path / "a.bin"
    f.write_bytes(b"hello")
    wrong = "sha256:" + "0" * 64
    with OllamaHTTP() as http:
        with pytest.raises(OllamaResponseError) as info:
            http.upload_blob(wrong, f)
        assert info.value.status == 400
        assert f'digest mismatch, expected "{wrong}", got "{sha(f)}"' in info.value.message
        with pytest.raises(UnsafeNameError):  # forge never sends a malformed digest
            http.blob_exists("sha256:../../etc/passwd")
        assert len(server.state.requests) == 1
        # Ollama stores the bytes of a mismatched upload under their real digest (recorded)
        assert http.upload_blob(sha(f), f) == 200  # already present
    import httpx

    answer = httpx.post(f"{server.url}/api/blobs/sha256:xyz", content=b"x")
    assert (answer.status_code, answer.json()) == (400, {"error": "invalid digest format"})


def test_interrupted_upload_is_an_error_and_store_unchanged(
    server: OllamaServer, tmp_path: Path
) -> None:
    from ggufs import write_gguf

    big = write_gguf(tmp_path / "big.gguf", extra_kv={"test.padding": "x" * 3_000_000})
    mf = write_modelfile(tmp_path, "./big.gguf")
    server.state.faults.drop_upload_after = 1_000_000
    with pytest.raises(OllamaConnectionError) as info:
        register("big", modelfile=mf)
    assert "OLLAMA_HOST" in info.value.message
    assert server.url in info.value.message
    assert not server.state.has_blob(sha(big))
    assert not server.state.requests_to("POST", "/api/create")
    assert Store().find("big") is None or Store().get("big").registrations == []


def test_connection_refused_names_ollama_host_and_how_to_start(chatml_gguf: Path) -> None:
    mf = write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf")
    with pytest.raises(OllamaConnectionError) as info:
        register("tiny", modelfile=mf)
    assert "OLLAMA_HOST" in info.value.message
    assert "ollama serve" in info.value.hint
    assert info.value.exit_code == 1


def test_timeout_is_a_connection_error(server: OllamaServer, chatml_gguf: Path) -> None:
    mf = write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf")
    server.state.faults.delay = 1.5
    with pytest.raises(OllamaConnectionError) as info:
        register("tiny", modelfile=mf, timeout=0.3)
    assert "did not answer in time" in info.value.message


def test_changed_file_is_rehashed_not_trusted(server: OllamaServer, chatml_gguf: Path) -> None:
    mf = write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf")
    register("tiny", modelfile=mf)
    with open(chatml_gguf, "ab") as handle:
        handle.write(b"\0" * 32)
    result = register("tiny", modelfile=mf)
    assert result.files[0].digest_source == "hashed"
    assert result.files[0].digest == sha(chatml_gguf)
    assert result.files[0].uploaded is True


def test_projector_is_a_second_files_entry(server: OllamaServer, chatml_gguf: Path) -> None:
    from ggufs import write_projector

    proj = write_projector(chatml_gguf.parent / "mmproj-f16.gguf")
    mf = write_modelfile(chatml_gguf.parent, ["./tiny-q4_k_m.gguf", "./mmproj-f16.gguf"])
    result = register("vis", modelfile=mf)
    assert server.state.requests_to("POST", "/api/create")[0].json["files"] == {
        "tiny-q4_k_m.gguf": sha(chatml_gguf),
        "mmproj-f16.gguf": sha(proj),
    }
    assert [f.role for f in result.files] == ["model", "projector"]
    assert "vision" in server.state.model("vis").capabilities


def test_from_existing_model_uploads_nothing(
    server: OllamaServer, chatml_gguf: Path, tmp_path: Path
) -> None:
    register("base", modelfile=write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf"))
    folder = tmp_path / "derived"
    folder.mkdir()
    server.state.requests.clear()
    result = register(
        "derived",
        modelfile=write_modelfile(folder, "base:latest", template=None, system="Be brief."),
    )
    assert result.template.path == "inherited" and "base:latest" in result.template.explanation
    assert [r.method for r in server.state.requests] == ["GET", "POST"]
    body = server.state.requests[-1].json
    assert body["from"] == "base:latest" and "files" not in body
    assert server.state.model("derived").template == GO_CHATML


def test_missing_from_path_is_refused_before_upload(server: OllamaServer, tmp_path: Path) -> None:
    from ollama_forge.errors import ModelfileError

    mf = write_modelfile(tmp_path, "./typo-q4_k_m.gguf")
    with pytest.raises(ModelfileError, match="does not exist"):
        register("tiny", modelfile=mf)
    assert server.state.requests == []


def test_unknown_store_name_is_a_clear_error(server: OllamaServer) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        register("nothing-pulled")
    assert "forge pull-gguf" in info.value.hint
    assert server.state.requests == []


def test_native_template_omits_template_on_030(server: OllamaServer, chatml_gguf: Path) -> None:
    mf = write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf")
    result = register("tiny", modelfile=mf, native_template=True)
    body = server.state.requests_to("POST", "/api/create")[0].json
    assert "template" not in body
    assert body["parameters"]["stop"] == ["<|im_end|>"]
    assert result.template.path == "native_jinja"
    assert not result.template.send_template
    assert Store().get("tiny").registrations[-1].template_source == "native"
    # the server now renders the GGUF's Jinja
    assert "<|im_start|>" in server.state.model("tiny").template


def test_native_template_ignored_before_030(old_server: OllamaServer, chatml_gguf: Path) -> None:
    mf = write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf")
    result = register("tiny", modelfile=mf, native_template=True)
    assert old_server.state.requests_to("POST", "/api/create")[0].json["template"] == GO_CHATML
    assert result.template.path == "go_template"
    assert "predates 0.30" in result.template.explanation


def test_jinja_with_more_capabilities_wins_and_is_explained(
    server: OllamaServer, tmp_path: Path
) -> None:
    from ggufs import chatml_vocab, write_gguf

    tools_tpl = (
        "{% if tools %}{{ tools | tojson }}{% endif %}{% for m in messages %}{% if m.tool_calls %}x{% endif %}"
        "{% if m.role == 'tool' %}<tool_response>{{ m.content }}</tool_response>{% else %}{{ m.content }}{% endif %}"
        "{% endfor %}"
    )
    write_gguf(
        tmp_path / "t.gguf",
        arch="qwen2",
        chat_template=tools_tpl,
        tokens=chatml_vocab(),
        eos="<|im_end|>",
    )
    mf = write_modelfile(tmp_path, "./t.gguf")
    result = register("tools", modelfile=mf)
    assert result.template.path == "native_jinja"
    assert result.template.recommend_native
    assert result.template.jinja_capabilities == ["tools"]
    assert "more capabilities" in result.template.explanation


def test_split_gguf_sent_as_shards_on_030(server: OllamaServer, tmp_path: Path) -> None:
    from ggufs import write_split_gguf

    shards = write_split_gguf(tmp_path / "split", "big", shards=3)
    mf = write_modelfile(shards[0].parent, f"./{shards[0].name}")
    result = register("split", modelfile=mf)
    body = server.state.requests_to("POST", "/api/create")[0].json
    assert body["files"] == {p.name: sha(p) for p in shards}
    assert [f.role for f in result.files] == ["shard"] * 3
    assert len(server.state.model("split").kind("model")) == 1  # merged server-side


def test_split_gguf_merged_locally_before_030(old_server: OllamaServer, tmp_path: Path) -> None:
    import gguf
    from ggufs import write_split_gguf

    shards = write_split_gguf(tmp_path / "split", "big", shards=3)
    mf = write_modelfile(shards[0].parent, f"./{shards[0].name}")
    result = register("split", modelfile=mf)
    body = old_server.state.requests_to("POST", "/api/create")[0].json
    assert list(body["files"]) == ["big.gguf"]
    assert result.merged_from == [p.name for p in shards]
    merged = Path(result.files[0].path)
    assert result.files[0].digest == sha(merged) == body["files"]["big.gguf"]
    reader = gguf.GGUFReader(old_server.state.blob_path(body["files"]["big.gguf"]))
    assert [t.name for t in reader.tensors] == [f"blk.{i}.attn_q.weight" for i in range(3)]
    assert not [k for k in reader.fields if k.startswith("split.")]
    # re-registering reuses the merged file and its digest: zero bytes read
    before = DISK_READS.bytes_read
    again = register("split", modelfile=mf, system="again")
    assert DISK_READS.bytes_read - before == 0
    assert again.files[0].digest_source == "trusted"


def test_server_rejects_incomplete_shard_set_on_030(server: OllamaServer, tmp_path: Path) -> None:
    """The server's split rules (the test server follows server/create.go)."""
    from ggufs import write_split_gguf

    shards = write_split_gguf(tmp_path / "split", "big", shards=3)
    client_body = {"model": "x", "files": {shards[1].name: sha(shards[1])}, "stream": False}
    from ollama_forge.ollama.client import OllamaHTTP

    with OllamaHTTP() as http:
        for p in shards:
            http.upload_blob(sha(p), p)
        with pytest.raises(
            OllamaResponseError,
            match=r'split GGUF "big-00002-of-00003\.gguf" has 1 shards, expected 3',
        ):
            http.post_json("/api/create", client_body)


def test_json_result_is_serialisable(server: OllamaServer, chatml_gguf: Path) -> None:
    result = register("tiny", modelfile=write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf"))
    data = json.loads(json.dumps(result.model_dump(mode="json")))
    assert data["template"]["path"] == "go_template"
    assert "tiny:latest" in repr(result)


def test_register_local_gguf_builds_the_family_modelfile(
    server: OllamaServer, chatml_gguf: Path
) -> None:
    result = register("tiny", str(chatml_gguf))
    body = server.state.requests_to("POST", "/api/create")[0].json
    assert body["files"] == {"tiny-q4_k_m.gguf": sha(chatml_gguf)}
    assert "<|im_start|>" in body["template"] and "{{ .Content }}" in body["template"]
    assert "<|im_end|>" in body["parameters"]["stop"]
    assert result.source == str(chatml_gguf)
    reg = Store().get("tiny").registrations[-1]
    assert reg.template_source == "family:chatml"
    assert reg.source == str(chatml_gguf)


def test_two_step_flow_without_a_written_modelfile(server: OllamaServer, chatml_gguf: Path) -> None:
    store = Store()
    store.put(
        StoredModel(
            name="chat",
            repo="owner/Chat-GGUF",
            quant="Q4_K_M",
            files=[StoredFile(path=str(chatml_gguf), size=chatml_gguf.stat().st_size)],
        )
    )
    store.remember_sha256(chatml_gguf, sha(chatml_gguf)[7:], source="hub-verified")
    result = register("chat")
    assert result.store_name == "chat"
    assert result.bytes_hashed == 0
    assert server.state.model("chat").template
    assert Store().get("chat").registrations[-1].template_source == "family:chatml"
    # `forge register chat` again: nothing re-read, nothing re-sent
    again = register("chat")
    assert again.bytes_read == 0 and not any(f.uploaded for f in again.files)


def test_ctrl_c_during_upload_leaves_store_consistent(server: OllamaServer, tmp_path: Path) -> None:
    from ggufs import write_gguf

    big = write_gguf(tmp_path / "big.gguf", extra_kv={"test.padding": "x" * 9_000_000})
    mf = write_modelfile(tmp_path, "./big.gguf")

    def interrupt(event: str, data: dict[str, object]) -> None:
        if event == "upload_progress":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        register("big", modelfile=mf, reporter=interrupt)
    assert not server.state.has_blob(sha(big))
    assert not server.state.requests_to("POST", "/api/create")
    assert server.state.model("big") is None
    assert Store().find("big") is None
    # the digest computed before the interruption is still valid: the retry does not re-hash
    result = register("big", modelfile=mf)
    assert result.files[0].digest_source == "trusted" and result.files[0].uploaded


def test_adapter_and_draft_are_uploaded_and_mapped(server: OllamaServer, chatml_gguf: Path) -> None:
    from ggufs import write_gguf

    folder = chatml_gguf.parent
    lora = write_gguf(folder / "lora.gguf", general_type="adapter", tensors=True)
    draft = write_gguf(folder / "draft-0.5b.gguf", arch="qwen2")
    mf = write_modelfile(
        folder, "./tiny-q4_k_m.gguf", extra="ADAPTER ./lora.gguf\nDRAFT ./draft-0.5b.gguf"
    )
    result = register("tiny", modelfile=mf)
    body = server.state.requests_to("POST", "/api/create")[0].json
    assert body["files"] == {"tiny-q4_k_m.gguf": sha(chatml_gguf)}
    assert body["adapters"] == {"lora.gguf": sha(lora)}
    assert body["draft_files"] == {"draft-0.5b.gguf": sha(draft)}
    assert sorted(f.role for f in result.files) == ["adapter", "draft", "model"]
    kinds = sorted(
        layer["mediaType"].rsplit(".", 1)[1] for layer in server.state.model("tiny").layers
    )
    assert [k for k in kinds if k in ("adapter", "draft", "model")] == ["adapter", "draft", "model"]
    assert "ADAPTER " + str(lora) in Store().get("tiny").registrations[-1].modelfile


def test_requires_newer_ollama_is_refused_before_upload(
    old_server: OllamaServer, chatml_gguf: Path
) -> None:
    from ollama_forge.errors import OllamaError

    mf = write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf", extra="REQUIRES 0.31.0")
    with pytest.raises(
        OllamaError, match=r"REQUIRES Ollama 0\.31\.0, but the server .* runs 0\.29\.0"
    ):
        register("tiny", modelfile=mf)
    assert [r.method for r in old_server.state.requests] == ["GET"]


def test_a_planted_merged_link_is_not_followed(old_server: OllamaServer, tmp_path: Path) -> None:
    from ggufs import write_split_gguf

    from ollama_forge.config import forge_home
    from ollama_forge.errors import UnsafeNameError

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    forge_home().mkdir(parents=True, exist_ok=True)
    (forge_home() / "merged").symlink_to(elsewhere)
    shards = write_split_gguf(tmp_path / "split", "big", shards=2)
    mf = write_modelfile(shards[0].parent, f"./{shards[0].name}")
    with pytest.raises(UnsafeNameError):
        register("split", modelfile=mf)
    assert list(elsewhere.iterdir()) == []
    assert old_server.state.requests_to("POST", "/api/create") == []
