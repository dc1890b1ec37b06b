"""Remote inspection over HTTP Range requests and ``forge quants`` listings."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from ggufs import big_gguf
from servers.hub_server import HubServer

from ollama_forge.errors import GatedRepoError, OfflineError
from ollama_forge.hub.listing import RemoteFile, RepoListing
from ollama_forge.hub.quants import list_quants
from ollama_forge.hub.remote import CHUNK, HTTPRangeSource, source_for
from ollama_forge.workflows.inspect import inspect_remote

TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
)


def _listing(hub: HubServer, repo: str) -> RepoListing:
    r = hub.repos[repo]
    files = [
        RemoteFile(path=f.path, size=f.size, sha256=f.sha256 if f.lfs else None, blob_id=f.oid)
        for f in r.files.values()
    ]
    return RepoListing(repo=repo, revision="main", commit=r.commit, files=files)


def test_range_source_reads_exact_bytes_and_grows_by_chunks(hub: HubServer, tmp_path: Path) -> None:
    src = big_gguf(tmp_path / "b.gguf", megabytes=5)
    data = src.read_bytes()
    hub.add_repo("org/r-GGUF", {"b-Q8_0.gguf": src})
    listing = _listing(hub, "org/r-GGUF")
    source = source_for(listing, listing.files[0], chunk_size=1024 * 1024)
    rng = random.Random(7)
    offset = 0
    while offset < len(data):  # sequential reads, like a header parser
        n = rng.randint(1, 300_000)
        assert source.read_at(offset, n) == data[offset : offset + n]
        offset += n
    assert source.size() == len(data)
    assert source.bytes_fetched == len(data)  # never twice the same byte
    gets = hub.file_gets()
    assert all(
        g.host.startswith("localhost") for g in gets[1:]
    )  # straight to the CDN after the first
    assert gets[0].headers["range"] == "bytes=0-1048575"
    assert source.read_at(len(data) - 3, 10) == data[-3:]
    assert source.read_at(len(data) + 5, 10) == b""


def test_range_source_survives_a_server_ignoring_range(hub: HubServer, tmp_path: Path) -> None:
    src = big_gguf(tmp_path / "b.gguf", megabytes=3)
    data = src.read_bytes()
    hub.add_repo("org/r-GGUF", {"b-Q8_0.gguf": src})
    hub.ignore_range = True
    listing = _listing(hub, "org/r-GGUF")
    source = source_for(listing, listing.files[0], chunk_size=256 * 1024)
    assert source.read_at(0, 100) == data[:100]
    assert source.read_at(300_000, 50) == data[300_000:300_050]
    assert source.bytes_fetched < len(data)  # the stream was dropped early


def test_inspect_remote_reads_only_the_header(hub: HubServer, tmp_path: Path) -> None:
    src = big_gguf(tmp_path / "b.gguf", megabytes=8)
    hub.add_repo("org/big-GGUF", {"big-Q8_0.gguf": src, "README.md": b"x"})
    report = inspect_remote("org/big-GGUF:Q8_0", ctx=1024)
    remote = report.remote or {}
    assert remote["file"] == "big-Q8_0.gguf" and remote["file_size"] == src.stat().st_size
    assert remote["bytes_fetched"] <= report.info.header_size + CHUNK
    assert remote["requests"] == 1 and remote["bytes_fetched"] < src.stat().st_size
    assert report.info.quant == "Q8_0" and report.info.architecture == "llama"
    assert report.memory.ctx == 1024 and report.memory.weights_bytes > 8_000_000


def test_forge_inspect_delegates_hub_refs(hub: HubServer, make_gguf, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from ggufs import chatml_vocab, write_projector, write_split_gguf

    import ollama_forge as forge

    shards = write_split_gguf(
        tmp_path / "s",
        "chat-Q4_K_M",
        shards=3,
        tokens=chatml_vocab(),
        eos="<|im_end|>",
        chat_template=TEMPLATE,
    )
    files: dict[str, bytes | Path] = {p.name: p for p in shards}
    files["mmproj-chat-F16.gguf"] = write_projector(tmp_path / "p.gguf")
    hub.add_repo("org/chat-GGUF", files)
    report = forge.inspect("org/chat-GGUF")
    assert report.info.chat_template == TEMPLATE
    assert report.shards == [p.name for p in shards]
    assert report.projector is not None and report.projector.is_projector
    remote = report.remote or {}
    assert (
        remote["shards"] == [p.name for p in shards]
        and remote["projector"] == "mmproj-chat-F16.gguf"
    )
    assert remote["total_requests"] == 4  # one per shard header + the projector
    # weights: the sum over every shard's tensors
    from ollama_forge.gguf import read_gguf

    assert report.memory.weights_bytes == sum(read_gguf(p).tensor_bytes for p in shards)


def test_inspect_remote_errors(hub: HubServer, make_gguf, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    hub.add_repo("org/gated-GGUF", {"g-Q4_K_M.gguf": make_gguf()}, gated=True, tokens={"hf_x"})
    with pytest.raises(GatedRepoError):
        inspect_remote("org/gated-GGUF")
    monkeypatch.setenv("HF_TOKEN", "hf_x")
    assert inspect_remote("org/gated-GGUF").remote["quant"] == "Q4_K_M"  # type: ignore[index]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError):
        inspect_remote("org/gated-GGUF")


def test_list_quants_groups_paginates_and_checks_fit(
    hub: HubServer, make_gguf, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from ggufs import write_projector, write_split_gguf

    shards = write_split_gguf(tmp_path / "s", "m-F16", shards=2, file_type=1)
    hub.page_size = 3
    hub.add_repo(
        "org/m-GGUF",
        {
            "m-Q4_K_M.gguf": make_gguf(name="a", context_length=8192),
            "m-Q8_0.gguf": big_gguf(tmp_path / "q8.gguf", megabytes=1),
            **{f"F16/{p.name}": p for p in shards},
            "mmproj-m-F16.gguf": write_projector(tmp_path / "p.gguf"),
            "imatrix.dat": b"\0" * 10,
            "README.md": b"hello",
        },
    )
    listing = list_quants("org/m-GGUF", ctx=2048, mem="1G")
    assert [v.quant for v in listing.variants] == ["F16", "Q8_0", "Q4_K_M"]  # quality order
    f16 = listing.variants[0]
    assert f16.shard_count == 2 and f16.size == sum(p.stat().st_size for p in shards)
    assert [p.path for p in listing.projectors] == ["mmproj-m-F16.gguf"]
    assert set(listing.excluded) == {"imatrix.dat", "README.md"}
    assert listing.default == "m-Q4_K_M.gguf" and listing.header_file == "m-Q4_K_M.gguf"
    assert listing.budget is not None and listing.budget.bytes == 1024**3
    assert listing.kv_bytes is not None and listing.kv_bytes > 0
    assert all(
        v.fits is True and v.estimate_bytes == v.size + listing.kv_bytes for v in listing.variants
    )
    q4 = listing.variants[2]
    assert q4.file_type == "Q4_K_M"  # confirmed by general.file_type
    tree_pages = hub.find("GET", "/tree/")
    assert len(tree_pages) == 3 and "cursor=3" in tree_pages[1].path  # Link pagination followed
    tight = list_quants("org/m-GGUF", ctx=2048, mem=str(q4.size + listing.kv_bytes))
    # the 1 MiB Q8_0 no longer fits; the (tiny, synthetic) F16 shards still do
    assert [v.fits for v in tight.variants] == [True, False, True]


def test_cli_quants(hub: HubServer, make_gguf, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from ollama_forge.cli import main

    hub.add_repo(
        "org/m-GGUF",
        {"m-Q4_K_M.gguf": make_gguf(name="a"), "m-Q8_0.gguf": make_gguf(name="b", file_type=7)},
    )
    with pytest.raises(SystemExit) as info:
        main(["quants", "org/m-GGUF", "--json", "--mem", "2G"])
    assert info.value.code == 0
    out = json.loads(capsys.readouterr().out)
    assert [v["quant"] for v in out["variants"]] == ["Q8_0", "Q4_K_M"] and out["budget"][
        "source"
    ] == "--mem"
    with pytest.raises(SystemExit):
        main(["quants", "org/m-GGUF"])
    text = capsys.readouterr().out
    assert "Q4_K_M" in text and "m-Q8_0.gguf" in text and "default" in text
    with pytest.raises(SystemExit) as info:
        main(["quants", "org/m-GGUF:Q8_0"])
    assert info.value.code == 2


def test_http_range_source_is_a_byte_source() -> None:
    from ollama_forge.gguf import ByteSource

    assert isinstance(HTTPRangeSource("http://127.0.0.1:1/x", size=10), ByteSource)


@pytest.mark.slow
def test_remote_inspect_of_real_gemma_fetches_header_plus_one_chunk(
    hub: HubServer, gemma_path: Path
) -> None:
    import ollama_forge as forge

    hub.add_repo("google/gemma-3-270m-it-GGUF", {"gemma-3-270m-it-Q4_K_M.gguf": gemma_path})
    report = forge.inspect("google/gemma-3-270m-it-GGUF")
    remote = report.remote or {}
    served = sum(r.body_bytes for r in hub.file_gets() if r.status == 206)
    assert served == remote["bytes_fetched"]
    assert report.info.header_size < remote["bytes_fetched"] <= report.info.header_size + CHUNK
    assert remote["file_size"] == gemma_path.stat().st_size
    local = forge.inspect(str(gemma_path))
    assert local.memory == report.memory and local.info.chat_template == report.info.chat_template
    assert report.info.architecture == "gemma3"


def test_inspect_without_a_default_quant_picks_what_fits(
    hub: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ollama_forge.budget import MemoryBudget

    hub.add_repo(
        "org/odd-GGUF",
        {
            "o-F16.gguf": big_gguf(tmp_path / "f16.gguf", megabytes=3, file_type=1),
            "o-Q5_K_M.gguf": big_gguf(tmp_path / "q5.gguf", megabytes=1, file_type=17, seed=2),
        },
    )
    monkeypatch.setattr(
        "ollama_forge.hub.quants.detect_budget",
        lambda mem=None: MemoryBudget(bytes=5 * 1024 * 1024, source="ram"),
    )
    assert inspect_remote("org/odd-GGUF").remote["file"] == "o-Q5_K_M.gguf"  # type: ignore[index]
    monkeypatch.setattr(
        "ollama_forge.hub.quants.detect_budget",
        lambda mem=None: MemoryBudget(bytes=10**12, source="ram"),
    )
    assert inspect_remote("org/odd-GGUF").remote["file"] == "o-F16.gguf"  # type: ignore[index]


def test_cli_quants_on_a_repo_without_gguf(
    hub: HubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from ollama_forge.cli import main

    hub.add_repo("org/st", {"model.safetensors": b"\0" * 64, "config.json": b"{}"})
    with pytest.raises(SystemExit) as info:
        main(["quants", "org/st"])
    assert info.value.code == 0
    assert "no GGUF model files in this repo (2 other files)" in capsys.readouterr().out


def test_range_source_retries_a_cut_range(hub: HubServer, tmp_path: Path) -> None:
    src = big_gguf(tmp_path / "b.gguf", megabytes=3)
    data = src.read_bytes()
    hub.add_repo("org/r-GGUF", {"b-Q8_0.gguf": src})
    listing = _listing(hub, "org/r-GGUF")
    source = source_for(listing, listing.files[0], chunk_size=1024 * 1024)
    hub.drop_after = 300_000
    assert source.read_at(0, 500_000) == data[:500_000]
    bodies = [g for g in hub.file_gets() if g.status in (200, 206)]
    assert [g.headers["range"] for g in bodies] == ["bytes=0-1048575", "bytes=0-1048575"]
    assert source.requests == 2 and source.bytes_fetched == sum(g.body_bytes for g in bodies)
