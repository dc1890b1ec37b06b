"""forge pull-gguf against the local Hub: cache layout, verification, resume, auth, offline."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from ggufs import big_gguf
from servers.hub_server import HubServer

from ollama_forge import config
from ollama_forge.digests import DISK_READS
from ollama_forge.errors import (
    GatedRepoError,
    IntegrityError,
    OfflineError,
    QuantSelectionError,
    RepoNotFoundError,
    RevisionNotFoundError,
    UnsafeNameError,
)
from ollama_forge.hub import pull_gguf
from ollama_forge.store import Store

REPO = "org/tiny-GGUF"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def tiny(hub: HubServer, make_gguf):  # type: ignore[no-untyped-def]
    files = {
        "tiny-Q4_K_M.gguf": make_gguf(name="q4"),
        "tiny-Q8_0.gguf": make_gguf(name="q8", file_type=7),
        "README.md": b"# tiny\n",
    }
    hub.add_repo(REPO, files)
    return files


def storage() -> Path:
    return config.hf_hub_cache() / "models--org--tiny-GGUF"


def test_pull_default_variant_into_hf_cache_layout(hub: HubServer, tiny: dict[str, bytes]) -> None:
    result = pull_gguf(REPO)
    commit = hub.repos[REPO].commit
    data = tiny["tiny-Q4_K_M.gguf"]
    assert result.quant == "Q4_K_M" and result.name == "tiny-q4_k_m" and result.commit == commit
    assert result.downloaded_bytes == len(data)

    # huggingface_hub's layout: blobs/<sha256>, snapshots/<commit>/<path> -> ../../blobs/<sha256>, refs/main
    blob = storage() / "blobs" / sha(data)
    pointer = storage() / "snapshots" / commit / "tiny-Q4_K_M.gguf"
    assert blob.read_bytes() == data
    assert pointer.is_symlink() and os.readlink(pointer) == f"../../blobs/{sha(data)}"
    assert (storage() / "refs" / "main").read_text() == commit
    assert not list((storage() / "blobs").glob("*.forge-partial"))

    # ... so huggingface_hub's own cache lookups find it without any request.
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    hub.clear()
    assert try_to_load_from_cache(REPO, "tiny-Q4_K_M.gguf", cache_dir=config.hf_hub_cache()) == str(
        pointer
    )
    got = hf_hub_download(
        REPO,
        "tiny-Q4_K_M.gguf",
        revision=commit,
        cache_dir=config.hf_hub_cache(),
        endpoint=hub.endpoint,
    )
    assert got == str(pointer) and hub.requests == []

    # models/<name>/ holds a hard link to the blob, not a second copy
    local = config.models_dir() / "tiny-q4_k_m" / "tiny-Q4_K_M.gguf"
    assert Path(result.entry_path) == local
    assert local.stat().st_ino == blob.stat().st_ino and result.files[0].link == "hardlink"

    # the store records it, and the digest is trusted
    stored = Store().get("tiny-q4_k_m")
    assert (stored.repo, stored.revision, stored.quant) == (REPO, commit, "Q4_K_M")
    assert [(f.role, f.repo_path, f.size, f.sha256) for f in stored.files] == [
        ("model", "tiny-Q4_K_M.gguf", len(data), sha(data))
    ]
    assert Store().trusted_sha256(local) == sha(data)
    assert Store().load().digests[str(local.resolve())].source == "hub-verified"


def test_exact_requests(hub: HubServer, tiny: dict[str, bytes]) -> None:
    pull_gguf(REPO, quant="q8_0")
    commit = hub.repos[REPO].commit
    routes = [(r.method, r.host.split(":")[0], r.route) for r in hub.requests]
    assert routes == [
        ("GET", "127.0.0.1", f"/api/models/{REPO}/revision/main"),
        ("GET", "127.0.0.1", f"/api/models/{REPO}/tree/{commit}"),
        ("HEAD", "127.0.0.1", f"/{REPO}/resolve/{commit}/tiny-Q8_0.gguf"),
        ("GET", "localhost", f"/cdn/{REPO}/{sha(tiny['tiny-Q8_0.gguf'])}"),
    ]
    get = hub.requests[-1]
    assert "range" not in get.headers and get.headers["accept-encoding"] == "identity"
    assert get.body_bytes == len(tiny["tiny-Q8_0.gguf"])


def test_repull_is_free(hub: HubServer, tiny: dict[str, bytes]) -> None:
    pull_gguf(REPO)
    hub.clear()
    before = DISK_READS.bytes_read
    again = pull_gguf(REPO)
    assert again.downloaded_bytes == 0 and again.files[0].cached
    assert DISK_READS.bytes_read == before  # trusted digest: not re-hashed
    assert not hub.file_gets()


def test_token_goes_to_the_hub_never_to_the_cdn(
    hub: HubServer, make_gguf, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    hub.add_repo(
        "org/gated-GGUF", {"g-Q4_K_M.gguf": make_gguf(name="gated")}, gated=True, tokens={"hf_good"}
    )
    monkeypatch.setenv("HF_TOKEN", "hf_good")
    pull_gguf("org/gated-GGUF")
    hub_side = [r for r in hub.requests if r.host.startswith("127.0.0.1")]
    cdn_side = [r for r in hub.requests if r.host.startswith("localhost")]
    assert hub_side and all(r.headers.get("authorization") == "Bearer hf_good" for r in hub_side)
    assert cdn_side and all("authorization" not in r.headers for r in cdn_side)


@pytest.mark.parametrize("token", [None, "hf_wrong"])
def test_gated_repo_needs_a_token(
    hub: HubServer, make_gguf, monkeypatch: pytest.MonkeyPatch, token: str | None
) -> None:  # type: ignore[no-untyped-def]
    hub.add_repo(
        "org/gated-GGUF", {"g-Q4_K_M.gguf": make_gguf(name="gated")}, gated=True, tokens={"hf_good"}
    )
    if token:
        monkeypatch.setenv("HF_TOKEN", token)
    with pytest.raises(GatedRepoError) as info:
        pull_gguf("org/gated-GGUF")
    assert "HF_TOKEN" in (info.value.hint or "")
    assert "https://huggingface.co/org/gated-GGUF" in (info.value.hint or "")
    assert ("401" if token is None else "403") in info.value.message


def test_missing_repo_revision_and_quant(hub: HubServer, tiny: dict[str, bytes]) -> None:
    with pytest.raises(RepoNotFoundError):
        pull_gguf("org/nope")
    with pytest.raises(RevisionNotFoundError):
        pull_gguf(f"{REPO}@v9")
    with pytest.raises(QuantSelectionError) as info:
        pull_gguf(f"{REPO}:Q4_K")
    assert "Q4_K_M" in (info.value.hint or "") and "Q8_0" in (info.value.hint or "")


def test_sharded_variant_downloads_every_shard(hub: HubServer, tmp_path: Path) -> None:
    from ggufs import write_split_gguf

    shards = write_split_gguf(tmp_path / "split", "big-Q8_0", shards=3)
    files: dict[str, bytes | Path] = {f"Q8_0/{p.name}": p for p in shards}
    files["big-Q4_K_M.gguf"] = shards[0]  # another variant, not wanted
    hub.add_repo("org/split-GGUF", files)
    result = pull_gguf("org/split-GGUF", quant="Q8_0", name="big")
    assert [f.repo_path for f in result.files] == [f"Q8_0/{p.name}" for p in shards]
    assert {f.role for f in result.files} == {"shard"}
    assert result.entry_path.endswith("big-Q8_0-00001-of-00003.gguf")
    for f, src in zip(result.files, shards, strict=True):
        assert Path(f.path).read_bytes() == src.read_bytes()
    stored = Store().get("big")
    assert stored.entry_path == Path(result.entry_path)


def test_projector_closest_precision_and_opt_out(hub: HubServer, make_gguf, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from ggufs import write_projector

    hub.add_repo(
        "org/vision-GGUF",
        {
            "v-F16.gguf": make_gguf(name="f16", file_type=1),
            "v-Q8_0.gguf": make_gguf(name="q8", file_type=7),
            "mmproj-v-F16.gguf": write_projector(tmp_path / "p16.gguf").read_bytes(),
            "mmproj-v-Q8_0.gguf": write_projector(
                tmp_path / "p8.gguf", name="p8", file_type=7
            ).read_bytes(),
        },
    )
    result = pull_gguf("org/vision-GGUF")
    assert result.quant == "Q8_0"
    assert [(f.role, f.repo_path) for f in result.files] == [
        ("model", "v-Q8_0.gguf"),
        ("projector", "mmproj-v-Q8_0.gguf"),
    ]
    assert Store().get(result.name).projector_path == Path(result.projector_path or "")
    f16 = pull_gguf("org/vision-GGUF", quant="F16")
    assert f16.files[1].repo_path == "mmproj-v-F16.gguf"
    bare = pull_gguf("org/vision-GGUF", quant="F16", name="bare", projector=False)
    assert [f.role for f in bare.files] == ["model"] and bare.projector_path is None


def test_offline_serves_the_cache_and_names_what_is_missing(
    hub: HubServer, tiny: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = pull_gguf(REPO)
    hub.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    again = pull_gguf(REPO)
    assert again.offline and again.commit == first.commit and again.downloaded_bytes == 0
    with pytest.raises(OfflineError) as info:
        pull_gguf(REPO, quant="Q8_0")
    assert "tiny-Q8_0.gguf" in info.value.message and "HF_HUB_OFFLINE" in (info.value.hint or "")
    with pytest.raises(OfflineError):
        pull_gguf("org/never-seen")
    assert hub.requests == []


def test_corrupted_bytes_are_refused_and_only_they_removed(hub: HubServer, tmp_path: Path) -> None:
    from ggufs import write_split_gguf

    shards = write_split_gguf(tmp_path / "split", "c-Q8_0", shards=2)
    hub.add_repo("org/bad-GGUF", {p.name: p for p in shards})
    bad = bytearray(shards[1].read_bytes())
    bad[len(bad) // 2] ^= 0xFF
    hub.corrupt[("org/bad-GGUF", shards[1].name)] = bytes(bad)
    with pytest.raises(IntegrityError) as info:
        pull_gguf("org/bad-GGUF")
    assert shards[1].name in info.value.message and info.value.expected == sha(
        shards[1].read_bytes()
    )
    blobs = config.hf_hub_cache() / "models--org--bad-GGUF" / "blobs"
    assert sorted(p.name for p in blobs.iterdir()) == [
        sha(shards[0].read_bytes())
    ]  # good shard kept
    assert Store().find("c-q8_0") is None
    # fixed upstream: the rerun fetches only the missing shard
    del hub.corrupt[("org/bad-GGUF", shards[1].name)]
    hub.clear()
    result = pull_gguf("org/bad-GGUF")
    assert [f.downloaded_bytes > 0 for f in result.files] == [False, True]


@pytest.mark.parametrize(
    "evil",
    [
        "../evil-Q4_K_M.gguf",
        "sub/../../evil-Q4_K_M.gguf",
        "/abs-Q4_K_M.gguf",
        "a\\..\\..\\evil-Q4_K_M.gguf",
    ],
)
def test_traversal_names_refused_before_disk(hub: HubServer, make_gguf, evil: str) -> None:  # type: ignore[no-untyped-def]
    hub.add_repo(
        "org/evil-GGUF", {"ok-Q8_0.gguf": make_gguf(name="ok"), evil: make_gguf(name="evil")}
    )
    with pytest.raises(UnsafeNameError) as info:
        pull_gguf("org/evil-GGUF", quant="Q8_0")
    bad = info.value.filename  # the file itself, or the directory entry leading to it
    assert bad == evil or (evil.startswith(bad) and repr(bad) in info.value.message)
    assert not (config.hf_hub_cache() / "models--org--evil-GGUF").exists()
    assert not config.models_dir().exists()
    assert not hub.file_gets() and not hub.find("HEAD")


def test_resume_from_partial_file_in_process(hub: HubServer, tmp_path: Path) -> None:
    src = big_gguf(tmp_path / "r.gguf", megabytes=3)
    data = src.read_bytes()
    hub.add_repo("org/resume-GGUF", {"r-Q8_0.gguf": src})
    blobs = config.hf_hub_cache() / "models--org--resume-GGUF" / "blobs"
    blobs.mkdir(parents=True)
    cut = 1_234_567
    (blobs / f"{sha(data)}.forge-partial").write_bytes(data[:cut])
    result = pull_gguf("org/resume-GGUF")
    (get,) = hub.file_gets()
    assert get.headers["range"] == f"bytes={cut}-" and get.status == 206
    assert get.body_bytes == len(data) - cut
    assert (
        result.files[0].resumed_from == cut and result.files[0].downloaded_bytes == len(data) - cut
    )
    assert Path(result.entry_path).read_bytes() == data


def test_corrupt_partial_prefix_is_caught(hub: HubServer, tmp_path: Path) -> None:
    src = big_gguf(tmp_path / "r.gguf", megabytes=2)
    data = src.read_bytes()
    hub.add_repo("org/resume-GGUF", {"r-Q8_0.gguf": src})
    blobs = config.hf_hub_cache() / "models--org--resume-GGUF" / "blobs"
    blobs.mkdir(parents=True)
    partial = blobs / f"{sha(data)}.forge-partial"
    partial.write_bytes(b"\0" * 100_000)  # not the file's bytes
    with pytest.raises(IntegrityError):
        pull_gguf("org/resume-GGUF")
    assert not partial.exists() and not (blobs / sha(data)).exists()
    assert pull_gguf("org/resume-GGUF").downloaded_bytes == len(data)


def test_server_ignoring_range_restarts_cleanly(hub: HubServer, tmp_path: Path) -> None:
    src = big_gguf(tmp_path / "r.gguf", megabytes=2)
    data = src.read_bytes()
    hub.add_repo("org/resume-GGUF", {"r-Q8_0.gguf": src})
    blobs = config.hf_hub_cache() / "models--org--resume-GGUF" / "blobs"
    blobs.mkdir(parents=True)
    (blobs / f"{sha(data)}.forge-partial").write_bytes(data[:500_000])
    hub.ignore_range = True
    result = pull_gguf("org/resume-GGUF")
    (get,) = hub.file_gets()
    assert get.headers["range"] == "bytes=500000-" and get.status == 200
    assert result.files[0].sha256 == sha(data) and Path(result.entry_path).read_bytes() == data


def test_copy_makes_an_independent_file(hub: HubServer, tiny: dict[str, bytes]) -> None:
    result = pull_gguf(REPO, copy=True)
    local = Path(result.entry_path)
    blob = storage() / "blobs" / sha(tiny["tiny-Q4_K_M.gguf"])
    assert result.files[0].link == "copy" and local.stat().st_ino != blob.stat().st_ino
    assert local.read_bytes() == blob.read_bytes()


def test_cli_pull_json(
    hub: HubServer, tiny: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    from ollama_forge.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["pull-gguf", f"{REPO}:Q8_0", "--name", "t8", "--json"])
    assert exit_info.value.code == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert (
        out["name"] == "t8"
        and out["quant"] == "Q8_0"
        and out["files"][0]["sha256"] == sha(tiny["tiny-Q8_0.gguf"])
    )
    assert captured.err == ""  # silent progress under --json


def test_cli_errors_are_reported(
    hub: HubServer, tiny: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    from ollama_forge.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["pull-gguf", f"{REPO}:Q2_K"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "No Q2_K variant" in err and "Q4_K_M" in err


def test_fit_picks_the_best_variant_within_the_budget(
    hub: HubServer, make_gguf, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    hub.add_repo(
        "org/fit-GGUF",
        {
            "f-Q8_0.gguf": big_gguf(tmp_path / "q8.gguf", megabytes=3),
            "f-Q6_K.gguf": big_gguf(tmp_path / "q6.gguf", megabytes=2, file_type=18, seed=1),
            "f-Q4_K_M.gguf": make_gguf(name="q4"),
        },
    )
    from ollama_forge.hub import list_quants

    roomy = pull_gguf("org/fit-GGUF", fit=True, mem="1G", ctx=2048)
    assert roomy.quant == "Q8_0"
    kv = list_quants("org/fit-GGUF", ctx=2048, mem="1G").kv_bytes
    assert kv is not None and kv > 0
    budget = (
        (2 * 1024 * 1024 + 4096) + kv + 100_000
    )  # Q6_K (2 MiB) + KV fits, Q8_0 (3 MiB) does not
    tight = pull_gguf("org/fit-GGUF", fit=True, mem=str(budget), ctx=2048)
    assert tight.quant == "Q6_K" and tight.name == "fit-q6_k"
    with pytest.raises(QuantSelectionError, match="fits the memory budget"):
        pull_gguf("org/fit-GGUF", fit=True, mem="1000")


def test_default_without_q4_k_m_or_q8_0_uses_detected_budget(
    hub: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.add_repo(
        "org/odd-GGUF",
        {
            "o-F16.gguf": big_gguf(tmp_path / "f16.gguf", megabytes=3, file_type=1),
            "o-Q5_K_M.gguf": big_gguf(tmp_path / "q5.gguf", megabytes=1, file_type=17, seed=2),
        },
    )
    from ollama_forge.budget import MemoryBudget

    monkeypatch.setattr(
        "ollama_forge.hub.quants.detect_budget",
        lambda mem=None: MemoryBudget(bytes=5 * 1024 * 1024, source="ram", detail="test"),
    )
    # 2 MiB of KV cache at the default ctx 4096: F16 (3 MiB) no longer fits, Q5_K_M (1 MiB) does
    result = pull_gguf("org/odd-GGUF")
    assert result.quant == "Q5_K_M"


def test_offline_listing_after_a_pull(
    hub: HubServer, tiny: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ollama_forge.hub import list_quants

    pull_gguf(REPO)
    hub.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    listing = list_quants(REPO, mem="1G")
    assert listing.offline and [v.quant for v in listing.variants] == ["Q8_0", "Q4_K_M"]
    assert listing.kv_bytes is not None  # header read from the cached Q4_K_M file
    assert hub.requests == []


def test_cli_pull_human_output(
    hub: HubServer, tiny: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    from ollama_forge.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["pull-gguf", REPO])
    assert exit_info.value.code == 0
    captured = capsys.readouterr()
    assert "pulled tiny-q4_k_m" in captured.out and "sha256 verified" in captured.out
    assert "forge modelfile tiny-q4_k_m" in captured.out


def test_regular_git_file_is_verified_by_its_blob_id(hub: HubServer, make_gguf) -> None:  # type: ignore[no-untyped-def]
    from servers.hub_server import git_blob_sha1

    data = make_gguf(name="plain")
    hub.add_repo(
        "org/plain-GGUF", {"p-Q4_K_M.gguf": data}, lfs=[]
    )  # not in LFS: ETag is the git sha1
    result = pull_gguf("org/plain-GGUF")
    blob = config.hf_hub_cache() / "models--org--plain-GGUF" / "blobs" / git_blob_sha1(data)
    assert blob.read_bytes() == data and result.files[0].sha256 == sha(data)
    assert [r.route for r in hub.file_gets()] == [
        f"/org/plain-GGUF/resolve/{hub.repos['org/plain-GGUF'].commit}/p-Q4_K_M.gguf"
    ]


def test_a_tampered_cached_blob_is_fetched_again(hub: HubServer, tiny: dict[str, bytes]) -> None:
    from huggingface_hub import hf_hub_download

    # huggingface_hub put it in the cache (forge never verified it), then the bytes rot
    path = Path(
        hf_hub_download(
            REPO, "tiny-Q4_K_M.gguf", cache_dir=config.hf_hub_cache(), endpoint=hub.endpoint
        )
    )
    blob = path.resolve()
    blob.write_bytes(b"X" * blob.stat().st_size)
    hub.clear()
    result = pull_gguf(REPO)
    assert Path(result.entry_path).read_bytes() == tiny["tiny-Q4_K_M.gguf"]
    assert result.downloaded_bytes == len(tiny["tiny-Q4_K_M.gguf"])


def test_reusing_a_name_replaces_its_files(hub: HubServer, tiny: dict[str, bytes]) -> None:
    first = pull_gguf(REPO, name="tiny")
    second = pull_gguf(REPO, quant="Q8_0", name="tiny")
    folder = config.models_dir() / "tiny"
    assert sorted(p.name for p in folder.iterdir()) == ["tiny-Q8_0.gguf"]
    assert not Path(first.entry_path).exists() and Path(second.entry_path).exists()
    assert Store().get("tiny").quant == "Q8_0"


def test_not_enough_disk_space_is_said_before_downloading(
    hub: HubServer, tiny: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    from collections import namedtuple

    from ollama_forge.errors import HubError, UsageError

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 100, 100))
    with pytest.raises(HubError, match="Not enough disk space") as info:
        pull_gguf(REPO)
    assert "HF_HUB_CACHE" in (info.value.hint or "")
    assert not hub.file_gets()
    with pytest.raises(UsageError):
        pull_gguf(f"{REPO}:Q8_0", file="tiny-Q8_0.gguf")
    with pytest.raises(UsageError):
        pull_gguf(f"{REPO}:Q8_0", fit=True)


def test_revisions_tags_and_commits(hub: HubServer, make_gguf) -> None:  # type: ignore[no-untyped-def]
    repo = hub.add_repo("org/rev-GGUF", {"r-Q4_K_M.gguf": make_gguf(name="rev")}, tags={"v1": ""})
    tagged = pull_gguf("org/rev-GGUF@v1")
    assert tagged.revision == "v1" and tagged.commit == repo.commit
    assert (
        config.hf_hub_cache() / "models--org--rev-GGUF" / "refs" / "v1"
    ).read_text() == repo.commit
    hub.clear()
    pinned = pull_gguf(f"org/rev-GGUF:Q4_K_M@{repo.commit}", name="pinned")
    assert pinned.commit == repo.commit and pinned.downloaded_bytes == 0
    assert hub.requests[0].route == f"/api/models/org/rev-GGUF/revision/{repo.commit}"
    assert not hub.file_gets()


def test_connection_cut_mid_file_resumes_in_the_same_run(hub: HubServer, tmp_path: Path) -> None:
    src = big_gguf(tmp_path / "c.gguf", megabytes=4)
    data = src.read_bytes()
    hub.add_repo("org/cut-GGUF", {"c-Q8_0.gguf": src})
    hub.drop_after = 3 * 1024 * 1024
    result = pull_gguf("org/cut-GGUF")
    first, second = hub.file_gets()[-2:]
    assert "range" not in first.headers and 0 < first.body_bytes < len(data)
    start = int(second.headers["range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < start <= first.body_bytes and second.status == 206
    assert second.body_bytes == len(data) - start
    assert Path(result.entry_path).read_bytes() == data and result.files[0].sha256 == sha(data)
