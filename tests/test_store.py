"""forge's store: atomic JSON, model records, trusted digests that expire on change."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ollama_forge.errors import ModelNotFoundError, StoreError, UsageError
from ollama_forge.store import Registration, Store, StoredFile, StoredModel, validate_short_name


def test_put_get_list_remove(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    model = StoredModel(
        name="gemma", repo="org/gemma-GGUF", revision="a" * 40, quant="Q4_K_M",
        files=[StoredFile(role="model", path=str(tmp_path / "g.gguf"), repo_path="g.gguf", size=3, sha256="b" * 64)],
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
    store.add_registration("m", Registration(ollama_name="m:latest", host="http://h:1", source="x.gguf", modelfile="FROM ./x.gguf\n"))
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
