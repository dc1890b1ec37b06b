"""A hostile or broken Hub: stalls, trickles, cut bodies, oversized or lying answers, odd names,
planted symlinks, unreachable endpoints. Each ends in one clear ForgeError (exit 1, 2 for misuse),
nothing half-written at a final path, and no hang (short limits through FORGE_HUB_TIMEOUT)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ggufs import big_gguf
from servers.hub_server import HubServer

from ollama_forge import config
from ollama_forge.errors import HubError, UnsafeNameError
from ollama_forge.hub import pull_gguf
from ollama_forge.hub.remote import CHUNK
from ollama_forge.store import Store
from ollama_forge.workflows.inspect import inspect_remote

MiB = 1024 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short limits so that a stall is detected within a second (loaded CI machines stay well inside it)."""
    monkeypatch.setenv("FORGE_HUB_TIMEOUT", "1")


@pytest.fixture
def big(hub: HubServer, tmp_path: Path) -> bytes:
    src = big_gguf(tmp_path / "b.gguf", megabytes=3)
    hub.add_repo("org/b-GGUF", {"b-Q8_0.gguf": src})
    return src.read_bytes()


def blobs() -> Path:
    return config.hf_hub_cache() / "models--org--b-GGUF" / "blobs"


def assert_nothing_final(data: bytes) -> None:
    """No blob, no snapshot pointer, no models/<name>, no store entry: only the resumable partial."""
    assert not (blobs() / sha(data)).exists()
    assert not list((config.hf_hub_cache() / "models--org--b-GGUF").glob("snapshots/*/*"))
    assert not (config.models_dir() / "b-q8_0").exists()
    assert Store().find("b-q8_0") is None


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from ollama_forge.cli import main

    with pytest.raises(SystemExit) as info:
        main(args)
    err = capsys.readouterr().err
    assert "internal error" not in err and "Traceback" not in err
    return int(info.value.code or 0), " ".join(err.split())


def test_the_detected_http_stack_is_huggingface_hubs_own() -> None:
    import huggingface_hub
    from huggingface_hub.utils import get_session

    from ollama_forge.hub._http import http_module

    expected = "httpx2" if int(huggingface_hub.__version__.split(".")[0]) >= 2 else "httpx"
    assert http_module().__name__ == expected
    assert isinstance(get_session(), http_module().Client)


# --- downloads -------------------------------------------------------------------------------


def test_a_stall_mid_file_is_resumed_in_the_same_run(
    hub: HubServer, big: bytes, fast: None
) -> None:
    hub.stall_after, hub.stall_repeat = 1_500_000, False
    result = pull_gguf("org/b-GGUF")
    first, second = hub.file_gets()[-2:]
    assert "range" not in first.headers and first.body_bytes == 1_500_000
    assert second.headers["range"] == "bytes=1500000-" and second.status == 206
    assert Path(result.entry_path).read_bytes() == big and result.files[0].sha256 == sha(big)


def test_a_body_that_always_stalls_fails_clearly_and_keeps_the_partial(
    hub: HubServer, big: bytes, fast: None, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.stall_after = 100_000
    code, err = cli(["pull-gguf", "org/b-GGUF"], capsys)
    assert code == 1
    assert "did not answer in time" in err and "FORGE_HUB_TIMEOUT" in err and "resumes" in err
    assert_nothing_final(big)
    kept = (blobs() / f"{sha(big)}.forge-partial").read_bytes()
    assert (
        len(kept) == 6 * 100_000 and kept == big[: len(kept)]
    )  # each of the 6 tries added its bytes
    # once the server behaves, the next run continues from the kept bytes
    hub.stall_after = None
    hub.clear()
    result = pull_gguf("org/b-GGUF")
    assert result.files[0].resumed_from == len(kept) and Path(result.entry_path).read_bytes() == big


def test_a_trickle_below_the_minimum_rate_is_cut(
    hub: HubServer, big: bytes, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FORGE_HUB_TIMEOUT", "1")
    monkeypatch.setenv("FORGE_HUB_MIN_RATE", str(50 * MiB))
    hub.trickle = (2048, 0.02)  # ~100 KB/s, each piece well inside the read timeout
    code, err = cli(["pull-gguf", "org/b-GGUF"], capsys)
    assert code == 1 and "minimum rate" in err and "FORGE_HUB_MIN_RATE" in err
    assert_nothing_final(big)


def test_a_body_cut_every_time_gives_up_clearly(
    hub: HubServer, big: bytes, fast: None, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.drop_after, hub.drop_repeat = 200_000, True
    code, err = cli(["pull-gguf", "org/b-GGUF"], capsys)
    assert code == 1 and "broke while reading" in err and "Run the command again" in err
    assert len(hub.file_gets()) == 6  # the first try and five resumes, not an endless loop
    assert_nothing_final(big)


def test_a_busy_server_is_retried_and_a_huge_error_body_is_not_read(
    hub: HubServer, big: bytes, fast: None, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.fail_next = [(503, 100), (429, 100)]
    result = pull_gguf("org/b-GGUF")
    assert [g.status for g in hub.file_gets()] == [503, 429, 200] and Path(
        result.entry_path
    ).read_bytes() == big
    (blobs() / sha(big)).unlink()  # gone from the cache: the next pull downloads again
    hub.fail_next = [(404, 2 * 1024 * MiB)]  # 2 GiB of error page
    code, err = cli(["pull-gguf", "org/b-GGUF:Q8_0", "--name", "again"], capsys)
    assert code == 1 and "The Hub answered an error" in err and "404" in err
    (answer,) = [g for g in hub.file_gets() if g.status == 404]
    assert answer.body_bytes < 64 * MiB  # the client hung up after its bounded read


def test_invalid_limits_are_usage_errors(
    hub: HubServer, big: bytes, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in (
        ("FORGE_HUB_TIMEOUT", "0"),
        ("FORGE_HUB_TIMEOUT", "soon"),
        ("FORGE_HUB_MIN_RATE", "-1"),
    ):
        monkeypatch.setenv(name, value)
        code, err = cli(["pull-gguf", "org/b-GGUF"], capsys)
        assert code == 2 and name in err
        monkeypatch.delenv(name)


# --- remote inspect (Range reads) ------------------------------------------------------------


def test_an_oversized_206_body_is_never_read_past_the_range(hub: HubServer, tmp_path: Path) -> None:
    src = big_gguf(tmp_path / "o.gguf", megabytes=4)
    hub.add_repo("org/o-GGUF", {"o-Q8_0.gguf": src})
    hub.range_extra = 800 * MiB  # Content-Length says 800 MiB more than the range
    report = inspect_remote("org/o-GGUF")
    remote = report.remote or {}
    assert report.info.architecture == "llama"
    assert remote["bytes_fetched"] <= CHUNK + 256 * 1024  # the range plus at most one network read
    (get,) = [g for g in hub.file_gets() if g.status == 206]
    assert get.body_bytes < 64 * MiB  # the client hung up; the server never sent the 800 MiB


def test_a_redirect_with_a_huge_body_is_not_read(
    hub: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = big_gguf(tmp_path / "o.gguf", megabytes=1)
    hub.add_repo("org/o-GGUF", {"o-Q8_0.gguf": src}, gated=True, tokens={"hf_t"})
    monkeypatch.setenv("HF_TOKEN", "hf_t")
    hub.redirect_pad = 2 * 1024 * MiB  # the Hub's 302 to the CDN says it carries 2 GiB
    report = inspect_remote("org/o-GGUF")
    assert report.info.architecture == "llama"
    (redirect,) = [g for g in hub.file_gets() if g.status == 302]
    assert redirect.body_bytes < 64 * MiB  # dropped unread
    cdn = [g for g in hub.file_gets() if g.host.startswith("localhost")]
    assert cdn and all("authorization" not in g.headers for g in cdn)  # the token stays on the Hub
    pulled = pull_gguf("org/o-GGUF")
    assert Path(pulled.entry_path).read_bytes() == src.read_bytes()


@pytest.mark.parametrize(
    "header, words",
    [
        (lambda a, b, size: f"bytes {a}-{b - 1}/{size * 2}", "Content-Range total"),
        (lambda a, b, size: f"bytes {a + 10}-{b - 1}/{size}", "Content-Range"),
        (lambda a, b, size: f"bytes {a}-{b + 5000}/{size}", "Content-Range"),
        (lambda a, b, size: "bytes */*", "Content-Range"),
    ],
)
def test_a_lying_content_range_is_refused(
    hub: HubServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], header: object, words: str
) -> None:
    src = big_gguf(tmp_path / "o.gguf", megabytes=1)
    hub.add_repo("org/o-GGUF", {"o-Q8_0.gguf": src})
    hub.content_range = header  # type: ignore[assignment]
    code, err = cli(["inspect", "org/o-GGUF"], capsys)
    assert code == 1 and words in err and "o-Q8_0.gguf" in err


def test_a_stalled_range_read_times_out(
    hub: HubServer, tmp_path: Path, fast: None, capsys: pytest.CaptureFixture[str]
) -> None:
    src = big_gguf(tmp_path / "o.gguf", megabytes=1)
    hub.add_repo("org/o-GGUF", {"o-Q8_0.gguf": src})
    hub.stall_after = 1000
    code, err = cli(["inspect", "org/o-GGUF"], capsys)
    assert code == 1 and "did not answer in time" in err
    assert len([g for g in hub.file_gets() if g.status == 206]) == 3  # bounded retries


# --- listings --------------------------------------------------------------------------------


def test_a_stalled_listing_times_out(
    hub: HubServer, big: bytes, fast: None, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.api_stall = True
    code, err = cli(["quants", "org/b-GGUF"], capsys)
    assert code == 1 and "did not answer in time" in err and "HF_ENDPOINT" in err


def test_an_oversized_listing_is_refused_unread(
    hub: HubServer, big: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.api_pad = 40 * MiB
    code, err = cli(["quants", "org/b-GGUF"], capsys)
    assert code == 1 and "larger than" in err and "b-GGUF model info" in err


def test_pagination_to_another_origin_is_refused(
    hub: HubServer,
    make_gguf,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub.add_repo(
        "org/p-GGUF",
        {f"p{i}-Q4_K_M.gguf": make_gguf(name=f"p{i}") for i in range(3)},
        tokens={"hf_t"},
    )
    hub.page_size = 1
    hub.next_origin = f"http://localhost:{hub.port}"
    monkeypatch.setenv("HF_TOKEN", "hf_t")
    with pytest.raises(HubError, match="another server"):
        pull_gguf("org/p-GGUF")
    assert all(r.host.startswith("127.0.0.1") for r in hub.requests)  # the token never left the Hub


@pytest.mark.parametrize("name", ["\ud800-Q4_K_M.gguf", "sub\udfff/x-Q4_K_M.gguf"])
def test_lone_surrogates_in_listed_names_are_refused(
    hub: HubServer,
    make_gguf,
    name: str,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
) -> None:
    hub.add_repo("org/s-GGUF", {"ok-Q8_0.gguf": make_gguf(name="ok"), name: make_gguf(name="s")})
    with pytest.raises(UnsafeNameError, match="surrogate"):
        pull_gguf("org/s-GGUF", quant="Q8_0")
    for args in (["quants", "org/s-GGUF"], ["pull-gguf", "org/s-GGUF"], ["inspect", "org/s-GGUF"]):
        code, err = cli(args, capsys)
        assert code == 1 and "surrogate" in err
    assert not (config.hf_hub_cache() / "models--org--s-GGUF").exists()


def test_a_surrogate_in_a_repo_id_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    repo = os.fsdecode(b"org/\xff-GGUF")  # what argv holds for undecodable bytes
    for command in ("quants", "pull-gguf"):
        code, err = cli([command, repo], capsys)
        assert code == 2 and "Invalid Hub repo id" in err


# --- planted symlinks ------------------------------------------------------------------------


def test_a_symlinked_folder_in_the_snapshot_is_not_written_through(
    hub: HubServer,
    make_gguf,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    repo = hub.add_repo("org/l-GGUF", {"sub/l-Q4_K_M.gguf": make_gguf(name="l")})
    outside = tmp_path / "outside"
    outside.mkdir()
    snapshot = config.hf_hub_cache() / "models--org--l-GGUF" / "snapshots" / repo.commit
    snapshot.mkdir(parents=True)
    (snapshot / "sub").symlink_to(outside, target_is_directory=True)
    (outside / "l-Q4_K_M.gguf").write_bytes(
        b"someone else's file"
    )  # looks like a stale cache entry
    with pytest.raises(UnsafeNameError, match="symbolic link") as info:
        pull_gguf("org/l-GGUF")
    assert str(snapshot / "sub") in info.value.message
    assert [p.name for p in outside.iterdir()] == ["l-Q4_K_M.gguf"]  # neither replaced nor deleted
    assert (outside / "l-Q4_K_M.gguf").read_bytes() == b"someone else's file"
    assert not (config.models_dir() / "l-q4_k_m").exists()


def test_a_symlinked_models_folder_is_not_written_through(
    hub: HubServer, big: bytes, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    config.models_dir().mkdir(parents=True)
    (config.models_dir() / "b-q8_0").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafeNameError, match="symbolic link"):
        pull_gguf("org/b-GGUF")
    assert list(outside.iterdir()) == [] and Store().find("b-q8_0") is None


def test_a_symlink_planted_at_the_partial_name_is_refused(
    hub: HubServer, big: bytes, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    blobs().mkdir(parents=True)
    (blobs() / f"{sha(big)}.forge-partial").symlink_to(victim)
    with pytest.raises(UnsafeNameError, match="symbolic link"):
        pull_gguf("org/b-GGUF")
    assert victim.read_bytes() == b"precious"


def test_a_snapshot_pointer_leading_outside_the_cache_is_neither_used_nor_deleted(
    hub: HubServer, big: bytes, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.bin"
    victim.write_bytes(b"not the model")
    snapshot = (
        config.hf_hub_cache() / "models--org--b-GGUF" / "snapshots" / hub.repos["org/b-GGUF"].commit
    )
    snapshot.mkdir(parents=True)
    (snapshot / "b-Q8_0.gguf").symlink_to(victim)
    result = pull_gguf("org/b-GGUF")
    assert victim.read_bytes() == b"not the model"
    assert Path(result.entry_path).read_bytes() == big
    assert (snapshot / "b-Q8_0.gguf").resolve() == (blobs() / sha(big)).resolve()


# --- the endpoint itself ---------------------------------------------------------------------


def _forge_process(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # A fresh interpreter: huggingface_hub reads HF_ENDPOINT when it is first imported.
    return subprocess.run(
        [sys.executable, "-m", "ollama_forge", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )


def test_a_malformed_hf_endpoint_is_a_usage_error_naming_it() -> None:
    for command in (["quants", "a/b"], ["pull-gguf", "a/b"], ["inspect", "a/b"]):
        done = _forge_process(*command, env={"HF_ENDPOINT": "http://[::1"})
        assert done.returncode == 2, done.stderr
        assert "HF_ENDPOINT" in done.stderr and "internal error" not in done.stderr


def test_an_unreachable_endpoint_names_the_fix_quickly() -> None:
    import socket

    with socket.socket() as sock:  # a local port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    endpoint = f"http://127.0.0.1:{port}"
    for command in (["quants", "a/b"], ["pull-gguf", "a/b"], ["inspect", "a/b"]):
        done = _forge_process(*command, env={"HF_ENDPOINT": endpoint})
        err = " ".join(done.stderr.split())
        assert done.returncode == 1, err
        assert f"The Hub is unreachable at {endpoint}" in err and "internal error" not in err
        assert "HF_ENDPOINT" in err and "HF_HUB_OFFLINE=1" in err
        assert "Retrying" not in done.stderr  # one attempt, no retry storm
