"""The local Hub speaks the protocol the real huggingface_hub client expects (hub.md §1-3, §7)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from servers.hub_server import HubServer, git_blob_sha1

from ollama_forge import config


@pytest.fixture
def repo(hub: HubServer, make_gguf):  # type: ignore[no-untyped-def]
    hub.page_size = 2
    return hub.add_repo(
        "org/s-GGUF",
        {
            "a-Q4_K_M.gguf": make_gguf(name="a"),
            "sub/b-Q8_0.gguf": make_gguf(name="b", file_type=7),
            "README.md": b"# hello\n",
        },
        tags={"v1": ""},
    )


def test_hf_hub_download_trace_and_cdn_redirect(hub: HubServer, repo) -> None:  # type: ignore[no-untyped-def]
    from huggingface_hub import hf_hub_download

    path = hf_hub_download(
        "org/s-GGUF",
        "a-Q4_K_M.gguf",
        cache_dir=config.hf_hub_cache(),
        endpoint=hub.endpoint,
        token="hf_secret",
    )
    head, get = hub.requests
    assert (head.method, head.host.split(":")[0], head.status) == ("HEAD", "127.0.0.1", 302)
    assert head.headers["authorization"] == "Bearer hf_secret"
    assert (get.method, get.host.split(":")[0], get.status) == ("GET", "localhost", 200)
    assert "authorization" not in get.headers  # the client drops it for the other origin
    f = repo.files["a-Q4_K_M.gguf"]
    assert Path(path).resolve().name == f.sha256 and Path(path).read_bytes() == f.data


def test_resolve_headers(hub: HubServer, repo) -> None:  # type: ignore[no-untyped-def]
    url = f"{hub.endpoint}/org/s-GGUF/resolve/main/a-Q4_K_M.gguf"
    head = httpx.head(url)
    f = repo.files["a-Q4_K_M.gguf"]
    assert head.status_code == 302
    assert head.headers["x-repo-commit"] == repo.commit
    assert head.headers["x-linked-etag"] == f'"{f.sha256}"' and head.headers[
        "x-linked-size"
    ] == str(f.size)
    assert head.headers["location"].startswith(f"http://localhost:{hub.port}/cdn/")
    cdn = httpx.get(head.headers["location"], headers={"Range": "bytes=10-19"})
    assert cdn.status_code == 206 and cdn.content == f.data[10:20]  # type: ignore[index]
    assert (
        cdn.headers["content-range"] == f"bytes 10-19/{f.size}"
        and cdn.headers["accept-ranges"] == "bytes"
    )
    assert (
        httpx.get(head.headers["location"], headers={"Range": f"bytes={f.size}-"}).status_code
        == 416
    )
    readme = httpx.get(
        f"{hub.endpoint}/org/s-GGUF/resolve/main/README.md", headers={"Accept-Encoding": "gzip"}
    )
    assert readme.status_code == 200 and readme.content == b"# hello\n"
    oid = git_blob_sha1(b"# hello\n")
    assert readme.headers["etag"] == f'"{oid}"' and "content-encoding" not in readme.headers


def test_api_endpoints_through_hfapi(hub: HubServer, repo) -> None:  # type: ignore[no-untyped-def]
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    api = HfApi(endpoint=hub.endpoint)
    info = api.model_info("org/s-GGUF", files_metadata=True)
    assert info.sha == repo.commit
    sib = {s.rfilename: s for s in info.siblings or []}
    assert sib["a-Q4_K_M.gguf"].lfs.sha256 == repo.files["a-Q4_K_M.gguf"].sha256  # type: ignore[union-attr]
    assert sib["README.md"].lfs is None
    tree = list(api.list_repo_tree("org/s-GGUF", recursive=True))
    assert sorted(e.path for e in tree) == ["README.md", "a-Q4_K_M.gguf", "sub", "sub/b-Q8_0.gguf"]
    assert len(hub.find("GET", "/tree/")) == 2  # page size 2: the Link header was followed
    files = {e.path: e for e in tree if isinstance(e, RepoFile)}
    assert files["sub/b-Q8_0.gguf"].lfs.sha256 == repo.files["sub/b-Q8_0.gguf"].sha256  # type: ignore[union-attr]
    assert [e.path for e in api.list_repo_tree("org/s-GGUF", path_in_repo="sub")] == [
        "sub/b-Q8_0.gguf"
    ]
    paths = api.get_paths_info("org/s-GGUF", ["sub/b-Q8_0.gguf", "missing.gguf", "sub"])
    assert sorted(p.path for p in paths) == ["sub", "sub/b-Q8_0.gguf"]
    refs = api.list_repo_refs("org/s-GGUF")
    assert refs.branches[0].target_commit == repo.commit and refs.tags[0].name == "v1"
    assert api.model_info("org/s-GGUF", revision="v1").sha == repo.commit


def test_errors_map_to_the_clients_exceptions(hub: HubServer, repo, make_gguf) -> None:  # type: ignore[no-untyped-def]
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub import errors as hf

    api = HfApi(endpoint=hub.endpoint)
    with pytest.raises(hf.RepositoryNotFoundError):
        api.model_info("org/none")
    with pytest.raises(hf.RevisionNotFoundError):
        api.model_info("org/s-GGUF", revision="nope")
    with pytest.raises(hf.RemoteEntryNotFoundError):
        hf_hub_download(
            "org/s-GGUF", "missing.gguf", cache_dir=config.hf_hub_cache(), endpoint=hub.endpoint
        )
    no_exist = (
        config.hf_hub_cache() / "models--org--s-GGUF" / ".no_exist" / repo.commit / "missing.gguf"
    )
    assert no_exist.exists()  # needs X-Repo-Commit on the EntryNotFound answer
    hub.add_repo("org/g-GGUF", {"g.gguf": make_gguf()}, gated=True, tokens={"ok"})
    with pytest.raises(hf.GatedRepoError) as info:
        api.model_info("org/g-GGUF")
    assert info.value.response.status_code == 401
    with pytest.raises(hf.GatedRepoError) as info:
        api.model_info("org/g-GGUF", token="bad")
    assert info.value.response.status_code == 403
    assert api.model_info("org/g-GGUF", token="ok").id == "org/g-GGUF"
