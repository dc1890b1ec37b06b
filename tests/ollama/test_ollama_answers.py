"""forge against real and hostile Ollama answers: byte-identical ps/list sizes, rm unloads,
bounded generation, and one clear error (never a traceback) for malformed answers."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from servers.ollama_server import OllamaServer

from ollama_forge.cli import main
from ollama_forge.errors import (
    ModelNameError,
    OllamaConnectionError,
    OllamaError,
    OllamaResponseError,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "ollama_real"


def recorded(file: str, name: str) -> dict[str, Any]:
    for line in (DATA / f"{file}.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["name"] == name:
            return record
    raise KeyError(name)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


@pytest.fixture
def real(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A stand-in playing the recorded 0.32.15 CPU server."""
    with OllamaServer(version="0.32.15") as srv:
        srv.state.gpu = False
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        yield srv


# --- byte-identical to `ollama` ---------------------------------------------------------------


def test_ps_is_byte_identical_to_ollama_ps(real: OllamaServer) -> None:
    """The recorded /api/ps answer, rendered at the recorded moment, is `ollama ps`'s exact bytes."""
    from ollama_forge.ollama.ps import ps, render_table

    real.state.faults.raw_answers["/api/ps"] = recorded("ps", "ps-two-models")["response"][
        "body"
    ].encode()
    captured = datetime(
        2026, 12, 7, 17, 46, 8, tzinfo=timezone.utc
    )  # cli_output.txt's capture time
    text = render_table(ps(now=captured))
    assert text.encode() == (DATA / "cli_raw" / "ps.pipe").read_bytes()
    assert "160 MB" in text  # not 160.2 MB: 0.32's HumanBytes


def test_list_sizes_match_ollama_list(
    real: OllamaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from ollama_forge.ollama.models import list_models

    real.state.faults.raw_answers["/api/tags"] = recorded(
        "tags", "tags-all-models-end-of-recording"
    )["response"]["body"].encode()
    ollama_list = {}
    for line in (DATA / "cli_raw" / "list.pipe").read_text(encoding="utf-8").splitlines()[1:]:
        cells = line.split()
        ollama_list[cells[0]] = " ".join(cells[2:4])
    listed = {m.name: m.size_text for m in list_models().models}
    shared = set(listed) & set(ollama_list)
    assert len(shared) >= 20
    assert {n: listed[n] for n in shared} == {n: ollama_list[n] for n in shared}
    assert listed["proj-only:latest"] == "671 B"
    code, out, _ = run(capsys, "list")
    assert code == 0 and "351 MB" in out and "351.5 MB" not in out


def test_list_sizes_on_an_old_server(old_server: OllamaServer) -> None:
    from ollama_forge.ollama.models import list_models

    old_server.state.faults.raw_answers["/api/tags"] = recorded(
        "tags", "tags-all-models-end-of-recording"
    )["response"]["body"].encode()
    sizes = {m.name: m.size_text for m in list_models().models}
    assert sizes["smol-gemma-two:latest"] == "351.5 MB" and sizes["proj-only:latest"] == "671 B"


def test_show_prints_stop_values_like_ollama_and_the_normalised_name(
    real: OllamaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    real.state.faults.raw_answers["/api/show"] = recorded("show", "existing-full-plain")[
        "response"
    ]["body"].encode()
    code, out, _ = run(capsys, "show", "g1")
    assert code == 0
    assert out.startswith("model: g1:latest\n")
    assert '  stop           "<|im_end|>"\n' in out and '  stop           "<|im_start|>"\n' in out
    assert "['" not in out  # never a Python list


def test_show_refuses_an_invalid_name_before_sending(
    real: OllamaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "show", "bad name")
    assert code == 1 and "Invalid Ollama model name" in err
    assert real.state.requests == []


# --- rm and generation ------------------------------------------------------------------------


def _registered(server: OllamaServer, name: str = "m") -> None:
    from ggufs import write_gguf
    from ollama_helpers import write_modelfile

    from ollama_forge.workflows.register import register

    folder = server.state.root / "src"
    write_gguf(folder / "m.gguf")
    register(name, modelfile=write_modelfile(folder, "./m.gguf"))


def test_rm_unloads_a_loaded_model_first(
    real: OllamaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from ollama_forge.ollama.client import make_client
    from ollama_forge.ollama.ps import ps

    _registered(real)
    make_client().chat("m", messages=[{"role": "user", "content": "hi"}])
    assert [m.name for m in ps()] == ["m:latest"]
    code, out, err = run(capsys, "rm", "m")
    assert (code, out) == (0, "deleted 'm'\n") and "warning" not in err
    assert ps() == []  # Ollama's delete alone would leave the runner listed
    calls = [
        (r.method, r.path, r.json)
        for r in real.state.requests
        if r.path in ("/api/generate", "/api/delete")
    ]
    assert calls == [
        ("POST", "/api/generate", {"model": "m", "keep_alive": 0}),
        ("DELETE", "/api/delete", {"model": "m"}),
    ]


def test_chat_model_sends_a_length_limit(real: OllamaServer) -> None:
    from ollama_forge.ollama.langchain import DEFAULT_NUM_PREDICT, chat_model

    _registered(real)
    real.state.faults.endless_generation = True  # a base model that never emits an end token
    reply = chat_model("m", num_predict=5).invoke("Say hi")
    assert reply.content.split() == ["word"] * 5
    assert reply.response_metadata["done_reason"] == "length"
    chat_model("m").invoke("Say hi")
    assert (
        real.state.requests_to("POST", "/api/chat")[-1].json["options"]["num_predict"]
        == DEFAULT_NUM_PREDICT
    )


def test_chat_model_ends_at_its_deadline(real: OllamaServer) -> None:
    from ollama_forge.ollama.langchain import chat_model

    _registered(real)
    real.state.faults.endless_generation = True
    real.state.faults.token_delay = 0.05
    with pytest.raises(OllamaError, match="deadline") as info:
        chat_model("m", num_predict=-1, deadline=0.5).invoke("Say hi")
    assert "num_predict" in (info.value.hint or "")


def test_a_stalled_create_is_reported(real: OllamaServer) -> None:
    from ollama_forge.ollama.client import OllamaHTTP

    real.state.faults.delay = 1.0
    with OllamaHTTP() as http, pytest.raises(OllamaConnectionError, match="did not answer in time"):
        list(http.create({"model": "x", "from": "y"}, stall_timeout=0.3))


# --- hostile and malformed answers ------------------------------------------------------------

GOOD_PS = {
    "name": "a:latest",
    "model": "a:latest",
    "size": 10,
    "digest": "ab" * 32,
    "details": {},
    "expires_at": "2026-12-07T17:54:15.148561215Z",
    "size_vram": 0,
    "context_length": 2048,
}
GOOD_TAG = {
    "name": "a:latest",
    "model": "a:latest",
    "modified_at": "2026-12-07T17:42:13.525857517Z",
    "size": 10,
    "digest": "ab" * 32,
    "details": {},
}
MALFORMED = {
    "/api/ps": [
        b'{"models":[{"name":"a"',
        b"null",
        b"[]",
        b'"models"',
        b'{"models":{}}',
        b'{"models":[5]}',
        json.dumps({"models": [{**GOOD_PS, "size": -1}]}).encode(),
        json.dumps({"models": [{**GOOD_PS, "expires_at": "tomorrow"}]}).encode(),
        json.dumps({"models": [{**GOOD_PS, "expires_at": "2026-13-45T99:00:00Z"}]}).encode(),
        json.dumps({"models": [{**GOOD_PS, "size_vram": "big"}]}).encode(),
        json.dumps({"models": [{**GOOD_PS, "details": []}]}).encode(),
    ],
    "/api/tags": [
        b'{"models":[',
        b"null",
        b"[1,2]",
        json.dumps({"models": [{**GOOD_TAG, "size": -5}]}).encode(),
        json.dumps({"models": [{**GOOD_TAG, "modified_at": 12}]}).encode(),
        json.dumps({"models": [{**GOOD_TAG, "name": None, "model": ["x"]}]}).encode(),
    ],
    "/api/show": [
        b'{"modelfile":',
        b"null",
        b"[]",
        b'{"parameters":5}',
        b'{"capabilities":"tools"}',
        b'{"details":"x"}',
        b'{"messages":{"role":"user"}}',
        b'{"model_info":[1]}',
    ],
}


@pytest.mark.parametrize(
    ("path", "body"), [(p, b) for p, bodies in MALFORMED.items() for b in bodies]
)
def test_malformed_answers_are_one_clear_error(
    real: OllamaServer, capsys: pytest.CaptureFixture[str], path: str, body: bytes
) -> None:
    real.state.faults.raw_answers[path] = body
    command = {"/api/ps": ["ps"], "/api/tags": ["list"], "/api/show": ["show", "m"]}[path]
    code, _, err = run(capsys, *command)
    assert code == 1
    assert "malformed answer to " + path in " ".join(err.split())
    assert "internal error" not in err and "Traceback" not in err


def test_an_oversized_answer_is_refused_not_read_whole(
    real: OllamaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ollama_forge.ollama.client as client
    from ollama_forge.ollama.ps import ps

    assert client.MAX_LIST_BYTES <= 8 * 1024 * 1024  # a 200 MB /api/ps answer is refused, not read
    monkeypatch.setattr(client, "MAX_LIST_BYTES", 64 * 1024)
    entries = [{**GOOD_PS, "name": f"m{i}:latest"} for i in range(2000)]
    real.state.faults.raw_answers["/api/ps"] = json.dumps({"models": entries}).encode()
    with pytest.raises(OllamaResponseError, match="larger than 65536 bytes"):
        ps()


def test_server_strings_cannot_drive_the_terminal(
    real: OllamaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    real.state.faults.raw_answers["/api/ps"] = json.dumps(
        {"models": [{**GOOD_PS, "name": "evil\x1b]0;owned\x07\x9b2J:latest"}]}
    ).encode()
    code, out, _ = run(capsys, "ps")
    assert code == 0 and "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "evil\\x1b]0;owned\\x07\\x9b2J:latest" in out
    real.state.version = "[bold red]0.32.15[/bold red]\x1b[2J"
    from ollama_forge.ollama.client import OllamaHTTP

    with (
        OllamaHTTP() as http,
        pytest.raises(OllamaResponseError, match="malformed answer to /api/version"),
    ):
        http.version()


@pytest.mark.parametrize(
    ("text", "lfs"),
    [
        ("supplied file was not in GGUF format", True),
        ("invalid file magic", True),
        (
            "failed to validate GGUF with llama-quantize without compatibility patches: exit status 1",
            False,
        ),
        ('split GGUF "a.gguf" must use llama.cpp split filename pattern', False),
        ("GGUF array size 99999999 exceeds maximum 67108864", False),
    ],
)
def test_lfs_hint_only_for_client_side_file_errors(text: str, lfs: bool) -> None:
    from ollama_forge.ollama.client import _hint_for

    assert ("Git-LFS" in (_hint_for(text, -1) or "")) is lfs


def test_cpu_only_server_warning_and_hint(
    real: OllamaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    real.state.faults.raw_answers["/api/ps"] = recorded("ps", "ps-two-models")["response"][
        "body"
    ].encode()
    code, _, err = run(capsys, "ps", "--require-gpu")
    flat = " ".join(err.split())
    assert code == 1
    assert (
        "runs entirely on the CPU" in flat
        and "inference compute" in flat
        and "offloaded" not in flat
    )
    assert "drop --require-gpu" in flat and "free VRAM" not in flat


def test_list_with_ollama_down_exits_1_even_after_rm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ModelNameError):  # names are checked before any I/O
        from ollama_forge.ollama.models import remove

        remove("bad name", host="http://127.0.0.1:9")
    code, out, err = run(capsys, "list", "--host", "http://127.0.0.1:9")
    assert code == 1 and out == "" and "Cannot reach Ollama" in err


def test_a_crashed_runner_names_the_cause(real: OllamaServer) -> None:
    from ollama_forge.ollama.langchain import chat_model

    _registered(real)
    real.state.faults.runner_signal = "illegal instruction"
    with pytest.raises(OllamaResponseError, match="signal: illegal instruction") as info:
        chat_model("m").invoke("hi")
    assert info.value.status == 500 and "CPU instruction" in (info.value.hint or "")


def test_a_server_that_never_answers_ends_at_the_deadline(real: OllamaServer) -> None:
    from ollama_forge.ollama.client import OllamaHTTP
    from ollama_forge.ollama.langchain import chat_model

    _registered(real)
    real.state.faults.delay = 2.0  # every answer starts after 2 s
    with pytest.raises(OllamaError, match="deadline"):
        chat_model("m", deadline=0.5).invoke("Say hi")
    with OllamaHTTP() as http, pytest.raises(OllamaError, match="deadline"):
        list(
            http.generate_stream(
                "/api/chat",
                {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
                deadline=0.5,
            )
        )
