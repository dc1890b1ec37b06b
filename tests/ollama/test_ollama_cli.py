"""The forge register/list/show/rm commands and the client error choke point."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from ollama_helpers import write_modelfile
from servers.ollama_server import OllamaServer

from ollama_forge.cli import main
from ollama_forge.errors import OllamaConnectionError, OllamaResponseError
from ollama_forge.ollama.client import make_client, translate_errors
from ollama_forge.store import Store


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_register_cli_and_json(
    server: OllamaServer, chatml_gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mf = write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf")
    code, out, err = run(capsys, "register", "tiny", "-f", str(mf))
    assert code == 0, err
    assert out.startswith(f"registered tiny:latest on {server.url} (via api)\n")
    assert "uploaded: tiny-q4_k_m.gguf" in out
    assert "template:" in err and "Go TEMPLATE" in err
    code, out, err = run(
        capsys, "register", "tiny", "-f", str(mf), "--system", "Be kind.", "--json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["bytes_read"] == 0
    assert data["files"][0]["uploaded"] is False
    assert data["create_request"]["system"] == "Be kind."


def test_register_dry_run_cli(
    server: OllamaServer, chatml_gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mf = write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf")
    code, out, _ = run(capsys, "register", "tiny", "-f", str(mf), "--dry-run", "--host", server.url)
    assert code == 0
    assert server.state.requests == []
    assert f"HEAD {server.url}/api/blobs/sha256:" in out
    assert f"POST {server.url}/api/create\n" in out
    assert '"model": "tiny:latest"' in out


def test_register_bad_name_exit_1(
    server: OllamaServer, chatml_gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mf = write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf")
    code, _, err = run(capsys, "register", "bad name!", "-f", str(mf))
    assert code == 1
    assert "Invalid Ollama model name" in err
    assert server.state.requests == []


def test_register_ollama_down_message(
    chatml_gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mf = write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf")
    code, out, err = run(capsys, "register", "tiny", "-f", str(mf))
    assert code == 1 and out == ""
    assert "OLLAMA_HOST" in err and "ollama serve" in err


def _fake_ollama(bin_dir: Path, exit_code: int) -> Path:
    bin_dir.mkdir()
    script = bin_dir / "ollama"
    script.write_text(
        "#!/bin/sh\n"
        'echo "args: $*"\n'
        'echo "host: $OLLAMA_HOST"\n'
        'cat "$4"\n'
        "printf 'gathering model components\\rwriting manifest\\n'\n"
        f'[ {exit_code} -eq 0 ] && echo success || echo "Error: invalid model name"\n'
        f"exit {exit_code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_register_with_cli(
    chatml_gguf: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    _fake_ollama(tmp_path / "bin", 0)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    mf = write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf")
    from ollama_forge.workflows.register import register

    result = register("tiny", modelfile=mf, use_cli=True, host="http://10.0.0.5:11434")
    err = capfd.readouterr().err
    assert "args: create tiny:latest -f " in err
    assert "host: http://10.0.0.5:11434" in err
    assert f"FROM {chatml_gguf}" in err  # absolute path in the temporary Modelfile
    assert result.via == "cli" and result.statuses[-1] == "success"
    assert Store().get("tiny").registrations[-1].host == "http://10.0.0.5:11434"


def test_register_with_cli_failure(
    chatml_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_ollama(tmp_path / "bin", 1)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    from ollama_forge.workflows.register import register

    with pytest.raises(OllamaResponseError, match="invalid model name"):
        register(
            "tiny",
            modelfile=write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf"),
            use_cli=True,
        )
    assert Store().find("tiny") is None


def test_register_cli_not_on_path(
    chatml_gguf: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    mf = write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf")
    code, _, err = run(capsys, "register", "tiny", "-f", str(mf), "--cli")
    assert code == 1
    assert "not on PATH" in err


def test_list_show_rm_cli(
    server: OllamaServer, chatml_gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mf = write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf")
    assert run(capsys, "register", "tiny", "-f", str(mf))[0] == 0
    code, out, _ = run(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "ID", "SIZE", "QUANT", "REPO", "TEMPLATE"]
    assert lines[1].split()[0] == "tiny:latest" and "Q4_K_M" in lines[1]
    code, out, _ = run(capsys, "show", "tiny")
    assert code == 0
    assert "capabilities: completion" in out and "num_ctx 4096" in out
    code, out, _ = run(capsys, "show", "tiny", "--json")
    assert json.loads(out)["system"] == "You are terse."
    code, out, _ = run(capsys, "rm", "tiny")
    assert (code, out) == (0, "deleted 'tiny'\n")
    code, _, err = run(capsys, "rm", "tiny")
    assert code == 2 and "'tiny' not found (looked for a model in Ollama" in " ".join(err.split())


def test_list_cli_ollama_down(capsys: pytest.CaptureFixture[str]) -> None:
    from ollama_forge.store import StoredModel

    Store().put(StoredModel(name="pulled", repo="o/r", quant="Q8_0"))
    code, out, err = run(capsys, "list")
    assert code == 1  # like `ollama list`
    assert out == ""
    assert "Cannot reach Ollama" in err and "pulled" not in err


def test_translate_errors_connection_and_response(server: OllamaServer) -> None:
    with pytest.raises(OllamaResponseError) as info, translate_errors(server.url):
        make_client().delete("ghost")
    assert info.value.status == 404 and "model 'ghost' not found" in info.value.message
    with pytest.raises(OllamaConnectionError) as info2, translate_errors("http://127.0.0.1:9"):
        make_client("http://127.0.0.1:9").list()
    assert "ollama serve" in (info2.value.hint or "")

    @translate_errors(server.url)
    def copy_missing() -> None:
        make_client().copy("ghost", "x")

    with pytest.raises(OllamaResponseError, match='model "ghost" not found'):
        copy_missing()


def test_translate_errors_leaves_other_exceptions() -> None:
    with pytest.raises(ValueError), translate_errors("http://x:1"):
        raise ValueError("not ours")


def test_in_stream_error_from_the_ollama_client_is_converted(
    server: OllamaServer, chatml_gguf: Path
) -> None:
    """ollama-python raises ResponseError(status -1) for an error line inside a 200 stream."""
    client = make_client()
    digest = client.create_blob(chatml_gguf)
    server.state.faults.create_error_after = 1
    server.state.faults.create_error = "disk full"
    with (
        pytest.raises(OllamaResponseError) as info,
        translate_errors(server.url, action="creating"),
    ):
        for _ in client.create("x", files={"m.gguf": digest}, stream=True):
            pass
    assert info.value.status == -1
    assert "disk full" in info.value.message and "while creating" in info.value.message


def test_register_on_a_remote_host_argument(
    server: OllamaServer, chatml_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ollama_forge.workflows.register import register

    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")  # not used: --host wins
    host = server.url.replace("127.0.0.1", "localhost")
    result = register(
        "tiny", modelfile=write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf"), host=host
    )
    assert result.host == host
    assert server.state.model("tiny") is not None
    assert Store().get("tiny").registrations[-1].host == host
