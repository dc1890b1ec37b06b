"""forge's store: atomic JSON, model records, trusted digests that expire on change."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from ollama_forge.errors import ModelNotFoundError, StoreError, UsageError
from ollama_forge.store import Registration, Store, StoredFile, StoredModel, validate_short_name


def test_put_get_list_remove(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    model = StoredModel(
        name="gemma",
        repo="org/gemma-GGUF",
        revision="a" * 40,
        quant="Q4_K_M",
        files=[
            StoredFile(
                role="model",
                path=str(tmp_path / "g.gguf"),
                repo_path="g.gguf",
                size=3,
                sha256="b" * 64,
            )
        ],
    )
    store.put(model)
    assert store.get("gemma") == model
    assert [m.name for m in store.list()] == ["gemma"]
    assert json.loads(store.path.read_text())["models"]["gemma"]["quant"] == "Q4_K_M"
    assert not list(store.root.glob(".store.*.tmp"))  # no temp file left behind
    assert store.remove("gemma") is True
    assert store.remove("gemma") is False
    with pytest.raises(ModelNotFoundError) as exc:
        store.get("gemma")
    assert "forge pull-gguf" in (exc.value.hint or "")


def test_registration_recorded(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.add_registration(
        "m",
        Registration(
            ollama_name="m:latest", host="http://h:1", source="x.gguf", modelfile="FROM ./x.gguf\n"
        ),
    )
    assert store.get("m").registrations[0].ollama_name == "m:latest"


def test_corrupt_store_is_a_clear_error(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.path.write_text("{not json")
    with pytest.raises(StoreError) as exc:
        store.list()
    assert "mv " in (exc.value.hint or "")


@pytest.mark.parametrize("name", ["", "..", "a/b", "-x", ".hidden", "x" * 81, "a b"])
def test_bad_short_names(name: str) -> None:
    with pytest.raises(UsageError):
        validate_short_name(name)


def test_trusted_digest_expires_when_file_changes(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    weights = tmp_path / "w.gguf"
    weights.write_bytes(b"GGUF" + b"\0" * 100)
    store.remember_sha256(weights, "c" * 64)
    assert store.trusted_sha256(weights) == "c" * 64
    # A symlink to the same file resolves to the same record.
    link = tmp_path / "link.gguf"
    link.symlink_to(weights)
    assert store.trusted_sha256(link) == "c" * 64
    # Touching the file (new mtime) invalidates trust.
    st = weights.stat()
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert store.trusted_sha256(weights) is None
    # Replacing it (new inode) also invalidates.
    store.remember_sha256(weights, "d" * 64)
    replacement = tmp_path / "new.gguf"
    replacement.write_bytes(weights.read_bytes())
    os.replace(replacement, weights)
    assert store.trusted_sha256(weights) is None
    assert store.trusted_sha256(tmp_path / "missing.gguf") is None


# --- disk errors and planted links (issue 12) ---------------------------------------------------

_FILL_AND_WRITE = r"""
import resource, signal, sys
from ollama_forge.errors import ForgeError
from ollama_forge.store import Store, StoredModel
store = Store(sys.argv[1])
store.put(StoredModel(name="first"))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))
try:
    store.put(StoredModel(name="second", repo="o/r" * 100))
except ForgeError as exc:
    print(type(exc).__name__, "|", exc.message, "|", exc.hint)
    sys.exit(1)
"""


def test_a_store_write_that_fails_is_a_clear_error_and_keeps_the_old_store(tmp_path: Path) -> None:
    pytest.importorskip("resource")
    import subprocess
    import sys

    root = tmp_path / "fhome"
    proc = subprocess.run(
        [sys.executable, "-c", _FILL_AND_WRITE, str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    kind, message, hint = (part.strip() for part in proc.stdout.split("|"))
    assert kind == "StoreError" and "Cannot write forge's store" in message and "FORGE_HOME" in hint
    assert [m.name for m in Store(root).list()] == ["first"]  # the old store.json is intact
    assert sorted(p.name for p in root.iterdir()) == [
        "store.json",
        "store.lock",
    ]  # no temp file left


def test_a_full_disk_names_the_fix(tmp_path: Path) -> None:
    import subprocess

    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True
    ).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        (mount / "filler").write_bytes(b"\x00" * (64 * 1024 - 4096 * 2))
        with pytest.raises(StoreError) as err:
            Store(mount).put(StoredModel(name="m", repo="o/r" * 3000))
        assert err.value.fields["errno"] == errno.ENOSPC and "Free some space" in (
            err.value.hint or ""
        )
        assert not (mount / "store.json").exists()
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_planted_lock_link_is_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "fhome"
    root.mkdir()
    victim = tmp_path / "victim.txt"
    (root / "store.lock").symlink_to(victim)
    with pytest.raises(StoreError, match="Cannot write") as err:
        Store(root).put(StoredModel(name="m"))
    assert "symbolic link" in (err.value.hint or "")
    assert not victim.exists()
