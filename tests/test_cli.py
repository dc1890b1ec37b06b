"""The CLI's one error path: messages that name the fix, exit codes, FORGE_DEBUG tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

from ollama_forge import cli as forge_cli
from ollama_forge.errors import ForgeError, GGUFFormatError, UsageError


def run_forge(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "ollama_forge", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )


def test_version_and_help() -> None:
    out = run_forge("--version")
    assert out.returncode == 0
    assert out.stdout.strip().startswith("forge, version ")
    helped = run_forge("--help")
    assert helped.returncode == 0
    for name in forge_cli.COMMANDS:
        assert name in helped.stdout


def test_every_registered_command_has_a_short_help() -> None:
    assert set(forge_cli.SHORT_HELP) == set(forge_cli.COMMANDS)


def test_unknown_command_is_misuse() -> None:
    out = run_forge("no-such-command")
    assert out.returncode == 2
    assert "No such command" in out.stderr
    assert out.stdout == ""


@pytest.fixture
def failing_command(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Register a throwaway command that raises what the test puts in the list."""
    to_raise: list[BaseException] = []

    @click.command()
    def boom() -> None:
        raise to_raise[0]

    module = type(sys)("ollama_forge.cli._test_boom")
    module.boom = boom  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ollama_forge.cli._test_boom", module)
    monkeypatch.setitem(forge_cli.COMMANDS, "boom", "_test_boom:boom")
    return to_raise


def test_forge_error_prints_message_and_fix(
    failing_command: list[BaseException], capsys: pytest.CaptureFixture[str]
) -> None:
    failing_command.append(
        GGUFFormatError("bad alignment 24", hint="re-convert the model", path="x.gguf")
    )
    with pytest.raises(SystemExit) as exc:
        forge_cli.main(["boom"])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "error: bad alignment 24" in err
    assert "fix: re-convert the model" in err
    assert "Traceback" not in err


def test_usage_error_exits_2(
    failing_command: list[BaseException], capsys: pytest.CaptureFixture[str]
) -> None:
    failing_command.append(UsageError("--quant and --file are exclusive", hint="pass one of them"))
    with pytest.raises(SystemExit) as exc:
        forge_cli.main(["boom"])
    assert exc.value.code == 2


def test_untrusted_text_is_escaped(
    failing_command: list[BaseException], capsys: pytest.CaptureFixture[str]
) -> None:
    failing_command.append(ForgeError("name \x1b[2Jevil\r [bold]x[/bold]"))
    with pytest.raises(SystemExit):
        forge_cli.main(["boom"])
    err = capsys.readouterr().err
    assert "\x1b[2J" not in err and "\r" not in err
    assert "\\x1b[2Jevil\\x0d" in err
    assert "[bold]x[/bold]" in err  # markup in messages is shown literally, not interpreted


def test_unexpected_exception_is_internal_error_without_traceback(
    failing_command: list[BaseException], capsys: pytest.CaptureFixture[str]
) -> None:
    failing_command.append(ZeroDivisionError("division by zero"))
    with pytest.raises(SystemExit) as exc:
        forge_cli.main(["boom"])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "internal error: ZeroDivisionError: division by zero" in err
    assert "FORGE_DEBUG=1" in err
    assert "Traceback" not in err


def test_forge_debug_shows_traceback(
    failing_command: list[BaseException],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORGE_DEBUG", "1")
    failing_command.append(ForgeError("boom here"))
    with pytest.raises(SystemExit):
        forge_cli.main(["boom"])
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert "boom here" in err


def test_error_to_dict_is_json_friendly() -> None:
    err = GGUFFormatError("bad", hint="fix it", path="a.gguf", offset=12, extra=object())
    data = err.to_dict()
    assert data["error"] == "GGUFFormatError"
    assert data["hint"] == "fix it"
    assert data["path"] == "a.gguf" and data["offset"] == 12
    assert isinstance(data["extra"], str)
    assert err.path == "a.gguf"
    with pytest.raises(AttributeError):
        _ = err.nope


@pytest.mark.parametrize("name", sorted(forge_cli.COMMANDS))
def test_every_command_loads_and_has_help(name: str) -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(forge_cli.cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output and name in result.output


def test_emoji_codes_in_untrusted_text_stay_literal(
    failing_command: list[BaseException], capsys: pytest.CaptureFixture[str]
) -> None:
    # /etc/passwd starts with "root:x:0" - rich would otherwise render ":x:" as an emoji.
    failing_command.append(ForgeError("it starts with b'root:x:0:0'"))
    with pytest.raises(SystemExit):
        forge_cli.main(["boom"])
    assert "root:x:0:0" in capsys.readouterr().err


HOST_COMMANDS = [
    ["ps"],
    ["list"],
    ["show", "somemodel"],
    ["rm", "somemodel"],
    ["check", "somemodel"],
    ["register", "somemodel", "{gguf}"],
    ["doctor"],
    ["demo"],
]


@pytest.mark.parametrize("command", HOST_COMMANDS, ids=lambda c: c[0])
def test_malformed_ollama_host_is_misuse_in_every_command(
    command: list[str], tmp_path: Path
) -> None:
    from ggufs import write_gguf

    gguf = write_gguf(tmp_path / "m.gguf", arch="llama")
    args = [part.replace("{gguf}", str(gguf)) for part in command]
    by_env = run_forge(*args, env={"OLLAMA_HOST": "http://[::1"})
    assert by_env.returncode == 2, by_env.stderr
    assert (
        "OLLAMA_HOST" in by_env.stderr
        and "Traceback" not in by_env.stderr
        and "internal error" not in by_env.stderr
    )
    by_option = run_forge(*args, "--host", "http://[::1")
    assert by_option.returncode == 2, by_option.stderr
    assert "--host" in by_option.stderr and "internal error" not in by_option.stderr


@pytest.mark.parametrize("command", [["quants", "a/b"], ["doctor"]], ids=lambda c: c[0])
def test_malformed_hf_endpoint_is_misuse(command: list[str]) -> None:
    done = run_forge(*command, env={"HF_ENDPOINT": "http://[::1"})
    assert done.returncode == 2, done.stderr
    assert "HF_ENDPOINT" in done.stderr and "internal error" not in done.stderr


def test_declared_error_fields_are_typed_attributes() -> None:
    from ollama_forge.errors import ChatTemplateError, HubError, OllamaResponseError

    err = OllamaResponseError("boom", status=400, server_error="does not support tools", host="h")
    assert err.status == 400 and err.server_error == "does not support tools" and err.host == "h"
    assert (
        OllamaResponseError("no fields").status is None
    )  # declared: a default, not AttributeError
    assert (
        ChatTemplateError("x", kind="Timeout").kind == "Timeout"
        and ChatTemplateError("x").kind is None
    )
    assert HubError("x", status=503).status == 503
    assert err.to_dict()["status"] == 400  # still in the JSON error object
