"""forge ps prints exactly what `ollama ps` prints for the same /api/ps state.

Expected strings are written out by hand from cmd/cmd.go ListRunningHandler, format.HumanBytes,
format.HumanTime and tablewriter v0.0.5 (no border, 4-space padding; header cells end with the
padding except the last, which ends with one space; row cells all end with the padding).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from servers.ollama_server import OllamaServer

from ollama_forge.cli import main
from ollama_forge.ollama.ps import human_bytes, human_duration, processor, ps, render_table, until

D1 = "a80c4f17acd5" + "0" * 52
D2 = "b0f3e1d2c3a4" + "1" * 52
D3 = "c1c2c3c4c5c6" + "2" * 52


def run_ps(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["ps", *args])
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_single_model_fully_on_gpu(
    server: OllamaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.state.set_running(
        [
            {
                "name": "llama3.2:latest",
                "size": 3_400_000_000,
                "size_vram": 3_400_000_000,
                "digest": D1,
                "expires_in": 270,
                "context_length": 4096,
            }
        ]
    )
    code, out, err = run_ps(capsys)
    assert code == 0
    assert out == (
        "NAME"
        + " " * 15
        + "ID"
        + " " * 14
        + "SIZE"
        + " " * 6
        + "PROCESSOR"
        + " " * 4
        + "CONTEXT"
        + " " * 4
        + "UNTIL"
        + " " * 14
        + "\n"
        + "llama3.2:latest"
        + " " * 4
        + "a80c4f17acd5"
        + " " * 4
        + "3.4 GB"
        + " " * 4
        + "100% GPU"
        + " " * 5
        + "4096"
        + " " * 7
        + "4 minutes from now"
        + " " * 4
        + "\n"
    )
    assert "warning" not in err


def test_split_cpu_unknown_and_stopping(
    server: OllamaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Sizes as Ollama >= 0.32 prints them: >= thresholds, values >= 10 truncated, whole values bare."""
    server.state.set_running(SPLIT_STATE)
    code, out, err = run_ps(capsys, "--require-gpu")
    # columns: NAME 10, ID 12, SIZE 5 ("42 GB"), PROCESSOR 15, CONTEXT 7, UNTIL 23
    assert out == (
        "NAME      "
        + "    "
        + "ID          "
        + "    "
        + "SIZE "
        + "    "
        + "PROCESSOR      "
        + "    "
        + "CONTEXT"
        + "    "
        + "UNTIL                  "
        + " "
        + "\n"
        + "big:70b   "
        + "    "
        + "a80c4f17acd5"
        + "    "
        + "42 GB"
        + "    "
        + "52%/48% CPU/GPU"
        + "    "
        + "131072 "
        + "    "
        + "2 hours from now       "
        + "    "
        + "\n"
        + "cpu:latest"
        + "    "
        + "b0f3e1d2c3a4"
        + "    "
        + "1 GB "
        + "    "
        + "100% CPU       "
        + "    "
        + "2048   "
        + "    "
        + "About a minute from now"
        + "    "
        + "\n"
        + "odd:latest"
        + "    "
        + "c1c2c3c4c5c6"
        + "    "
        + "500 B"
        + "    "
        + "Unknown        "
        + "    "
        + "8192   "
        + "    "
        + "Stopping...            "
        + "    "
        + "\n"
    )
    assert code == 1  # --require-gpu
    assert "big:70b is split 52%/48% CPU/GPU" in err
    assert "cpu:latest runs entirely on the CPU" in err
    assert (
        "offloaded 0/N" not in err
    )  # llama-server (>= 0.30) prints no `offloaded N/M layers` line
    assert "inference compute" in err
    assert "Not fully on the GPU" in err


SPLIT_STATE = [
    # (42e9 - 20.16e9) / 42e9 = 52% on CPU
    {
        "name": "big:70b",
        "size": 42_000_000_000,
        "size_vram": 20_160_000_000,
        "digest": D1,
        "expires_in": 2 * 3600 + 60,
        "context_length": 131072,
    },
    {
        "name": "cpu:latest",
        "size": 1_000_000_000,
        "size_vram": 0,
        "digest": D2,
        "expires_in": 90,
        "context_length": 2048,
    },
    {
        "name": "odd:latest",
        "size": 500,
        "size_vram": 600,
        "digest": D3,
        "expires_in": -5,
        "context_length": 8192,
    },
]


def test_split_cpu_unknown_and_stopping_on_an_old_server(
    old_server: OllamaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 0.29 server's own `ollama ps` prints %.1f sizes with strict thresholds: forge follows it."""
    old_server.state.set_running(
        [
            # (42e9 - 20.16e9) / 42e9 = 52% on CPU
            {
                "name": "big:70b",
                "size": 42_000_000_000,
                "size_vram": 20_160_000_000,
                "digest": D1,
                "expires_in": 2 * 3600 + 60,
                "context_length": 131072,
            },
            {
                "name": "cpu:latest",
                "size": 1_000_000_000,
                "size_vram": 0,
                "digest": D2,
                "expires_in": 90,
                "context_length": 2048,
            },
            {
                "name": "odd:latest",
                "size": 500,
                "size_vram": 600,
                "digest": D3,
                "expires_in": -5,
                "context_length": 8192,
            },
        ]
    )
    code, out, err = run_ps(capsys, "--require-gpu")
    # columns: NAME 10, ID 12, SIZE 9 ("1000.0 MB"), PROCESSOR 15, CONTEXT 7, UNTIL 23
    assert out == (
        "NAME      "
        + "    "
        + "ID          "
        + "    "
        + "SIZE     "
        + "    "
        + "PROCESSOR      "
        + "    "
        + "CONTEXT"
        + "    "
        + "UNTIL                  "
        + " "
        + "\n"
        + "big:70b   "
        + "    "
        + "a80c4f17acd5"
        + "    "
        + "42.0 GB  "
        + "    "
        + "52%/48% CPU/GPU"
        + "    "
        + "131072 "
        + "    "
        + "2 hours from now       "
        + "    "
        + "\n"
        + "cpu:latest"
        + "    "
        + "b0f3e1d2c3a4"
        + "    "
        + "1000.0 MB"
        + "    "
        + "100% CPU       "
        + "    "
        + "2048   "
        + "    "
        + "About a minute from now"
        + "    "
        + "\n"
        + "odd:latest"
        + "    "
        + "c1c2c3c4c5c6"
        + "    "
        + "500 B    "
        + "    "
        + "Unknown        "
        + "    "
        + "8192   "
        + "    "
        + "Stopping...            "
        + "    "
        + "\n"
    )
    assert code == 1  # --require-gpu
    assert "big:70b is split 52%/48% CPU/GPU" in err
    assert "num_ctx" in err and "num_gpu" in err
    assert "cpu:latest runs entirely on the CPU" in err
    assert "offloaded 0/N layers" in err  # the pre-0.30 runner logs its offload
    assert "Not fully on the GPU" in err


def test_go_rounding_half_away_from_zero_and_forever(
    server: OllamaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    far = datetime.now(timezone.utc) + timedelta(days=365 * 290)  # keep_alive -1
    server.state.set_running(
        [
            {
                "name": "half:latest",
                "size": 1000,
                "size_vram": 875,
                "digest": D1,
                "expires_at": far,
                "context_length": 512,
            },
        ]
    )
    code, out, _ = run_ps(capsys)
    assert code == 0
    assert out.splitlines()[1] == (
        "half:latest"
        + "    "
        + "a80c4f17acd5"
        + "    "
        + "1 KB"
        + "    "
        + "13%/87% CPU/GPU"
        + "    "
        + "512    "
        + "    "
        + "Forever"
        + "    "
    )
    [model] = ps()
    assert model.processor == "13%/87% CPU/GPU"  # Python's round(12.5) would say 12%
    assert model.cpu_percent == 13
    assert not model.fully_on_gpu
    assert "processor='13%/87% CPU/GPU'" in repr(model)


def test_require_gpu_passes_when_all_on_gpu(
    server: OllamaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.state.set_running(
        [{"name": "a:latest", "size": 10, "size_vram": 10, "digest": D1, "expires_in": 300}]
    )
    code, _, _ = run_ps(capsys, "--require-gpu")
    assert code == 0


def test_empty_ps_prints_header_only(
    server: OllamaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_ps(capsys)
    assert code == 0
    assert out == "NAME    ID    SIZE    PROCESSOR    CONTEXT    UNTIL \n"


def test_json_output(server: OllamaServer, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    server.state.set_running(
        [
            {
                "name": "a:latest",
                "size": 2_000_000_000,
                "size_vram": 1_000_000_000,
                "digest": D1,
                "expires_in": 300,
                "context_length": 4096,
            }
        ]
    )
    code, out, _ = run_ps(capsys, "--json")
    assert code == 0
    data = json.loads(out)
    assert data[0]["processor"] == "50%/50% CPU/GPU"
    assert data[0]["id"] == "a80c4f17acd5"
    assert data[0]["context_length"] == 4096


def test_ps_loaded_by_chat_appears(server: OllamaServer) -> None:
    """A model loaded through /api/chat shows up in /api/ps (end to end through the ollama client)."""
    from ggufs import write_gguf
    from ollama_helpers import write_modelfile

    from ollama_forge.ollama.client import make_client
    from ollama_forge.workflows.register import register

    assert ps() == []
    folder = server.state.root / "src"
    write_gguf(folder / "m.gguf")
    register("m", modelfile=write_modelfile(folder, "./m.gguf"))
    make_client().chat("m", messages=[{"role": "user", "content": "hi"}])
    [model] = ps()
    assert model.name == "m:latest" and model.processor == "100% GPU"
    assert model.until in ("4 minutes from now", "5 minutes from now")


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, "0 B"),
        (1000, "1000 B"),
        (1001, "1.0 KB"),
        (1_000_000, "1000.0 KB"),
        (1_000_001, "1.0 MB"),
        (5_100_000_000, "5.1 GB"),
        (1_250_000_000, "1.2 GB"),
        (123_456_789_012, "123.5 GB"),
    ],
)
def test_human_bytes_before_0_32(size: int, expected: str) -> None:
    assert human_bytes(size, legacy=True) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1 KB"),
        (1001, "1.0 KB"),
        (1_500, "1.5 KB"),
        (9_999, "10.0 KB"),
        (9_940, "9.9 KB"),
        (10_000, "10 KB"),
        (1_000_000, "1 MB"),
        (328_400_000, "328 MB"),
        (98_362_745, "98 MB"),
        (5_100_000_000, "5.1 GB"),
        (1_250_000_000, "1.2 GB"),
        (123_456_789_012, "123 GB"),
        (1_000_000_000_000, "1 TB"),
        (2_500_000_000_000, "2.5 TB"),
        (671, "671 B"),
    ],
)
def test_human_bytes_like_ollama_0_32(size: int, expected: str) -> None:
    assert human_bytes(size) == expected


@pytest.mark.parametrize(
    ("version", "legacy"),
    [
        ("0.32.15", False),
        ("0.33.0", False),
        ("0.32.0", False),
        ("0.31.9", True),
        ("0.29.0", True),
        ("0.0.0", False),
        (None, False),
    ],
)
def test_size_format_follows_the_server_version(version: str | None, legacy: bool) -> None:
    from ollama_forge.ollama.ps import legacy_sizes

    assert legacy_sizes(version) is legacy


@pytest.mark.parametrize(
    ("size", "vram", "expected"),
    [
        (100, 0, "100% CPU"),
        (100, 100, "100% GPU"),
        (100, 101, "Unknown"),
        (0, 5, "Unknown"),
        (200, 99, "51%/49% CPU/GPU"),
        (1000, 875, "13%/87% CPU/GPU"),
        (1000, 995, "1%/99% CPU/GPU"),
        (1000, 5, "100%/0% CPU/GPU"),
    ],
)
def test_processor_formula(size: int, vram: int, expected: str) -> None:
    assert processor(size, vram) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.4, "Less than a second"),
        (1.2, "1 second"),
        (59.9, "59 seconds"),
        (60, "About a minute"),
        (119, "About a minute"),
        (120, "2 minutes"),
        (3599, "59 minutes"),
        (3600, "About an hour"),
        (5399, "About an hour"),
        (5400, "2 hours"),
        (47 * 3600, "47 hours"),
        (48 * 3600, "2 days"),
        (14 * 86400, "2 weeks"),
        (60 * 86400, "2 months"),
        (800 * 86400, "2 years"),
    ],
)
def test_human_duration(seconds: float, expected: str) -> None:
    assert human_duration(seconds) == expected


def test_until() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert until(now - timedelta(seconds=1), now) == "Stopping..."
    assert until(now + timedelta(minutes=4, seconds=59), now) == "4 minutes from now"
    assert until(now + timedelta(days=365 * 25), now) == "Forever"
    assert (
        until(datetime(1, 1, 1, tzinfo=timezone.utc), now) == "Stopping..."
    )  # Go zero time has passed
    assert until(None, now) == "Never"


def test_render_table_matches_cli_text(server: OllamaServer) -> None:
    server.state.set_running(
        [{"name": "x:latest", "size": 10, "size_vram": 10, "digest": D1, "expires_in": 300}]
    )
    text = render_table(ps())
    assert text.startswith("NAME        ID              SIZE    PROCESSOR    CONTEXT    UNTIL")


def test_ps_unreachable_is_clear(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_ps(capsys)
    assert code == 1
    assert out == ""
    assert "OLLAMA_HOST" in err and "ollama serve" in err


def test_watch_refreshes_until_ctrl_c(
    server: OllamaServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import time as time_module

    server.state.set_running(
        [{"name": "a:latest", "size": 10, "size_vram": 10, "digest": D1, "expires_in": 300}]
    )
    calls = []

    def fake_sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 1:
            server.state.set_running([])  # the model unloads between refreshes
            return
        raise KeyboardInterrupt

    monkeypatch.setattr(time_module, "sleep", fake_sleep)
    code, out, _ = run_ps(capsys, "--watch")
    assert code == 0
    assert calls == [2.0, 2.0]
    assert out.count("NAME") == 2 and out.count("a:latest") == 1  # two refreshes, then Ctrl-C
