"""Every command follows docs/cli.md: its option table, hidden spellings, exit codes, examples,
the one "not found" wording (exit 2) and the --json error object on stdout.

The tables are read from docs/cli.md itself, so the document and the code cannot drift apart.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from ggufs import chatml_vocab, write_gguf

from ollama_forge import cli as forge_cli
from ollama_forge.cli._params import Option

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


# --- docs/cli.md ----------------------------------------------------------------------------


def doc_table(heading: str) -> list[list[str]]:
    """The rows (cells) of the first table under ``heading`` in docs/cli.md."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip("# ").strip() == heading)
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if set("".join(cells)) <= set("-: "):
            continue
        rows.append(cells)
    return rows[1:]  # without the header row


def spellings(cell: str) -> set[str]:
    """Option spellings in a table cell: `-n, --max-tokens N` -> {-n, --max-tokens}."""
    code = " ".join(re.findall(r"`([^`]*)`", cell))
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", code))


def commands_of(cell: str) -> list[str]:
    return [c.strip() for c in cell.split(",") if c.strip()]


def documented() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    visible: dict[str, set[str]] = defaultdict(set)
    hidden: dict[str, set[str]] = defaultdict(set)
    for cells in doc_table("Option vocabulary"):
        for command in commands_of(cells[-1]):
            visible[command] |= spellings(cells[0])
    for cells in doc_table("Hidden spellings"):
        for command in commands_of(cells[-1]):
            hidden[command] |= spellings(cells[0])
    return visible, hidden


def actual(command: click.Command) -> tuple[set[str], set[str]]:
    visible: set[str] = set()
    hidden: set[str] = set()
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        names = set(param.opts) | set(param.secondary_opts)
        aliases = set(param.aliases) if isinstance(param, Option) else set()
        if param.hidden:
            hidden |= names
        else:
            visible |= names - aliases
            hidden |= aliases
    return visible - {"-h", "--help"}, hidden


# --- the tables -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(forge_cli.COMMANDS))
def test_options_follow_the_vocabulary_table(name: str) -> None:
    visible, hidden = actual(forge_cli.load_command(name))
    doc_visible, doc_hidden = documented()
    assert visible == doc_visible.get(name, set()), f"forge {name}: options differ from docs/cli.md"
    assert hidden == doc_hidden.get(name, set()), (
        f"forge {name}: hidden spellings differ from docs/cli.md"
    )


def test_the_tables_name_only_real_commands_and_each_spelling_means_one_thing() -> None:
    doc_visible, doc_hidden = documented()
    assert set(doc_visible) | set(doc_hidden) <= set(forge_cli.COMMANDS)
    owner: dict[str, str] = {}
    for cells in doc_table("Option vocabulary"):
        for spelling in spellings(cells[0]):
            assert spelling not in owner, f"{spelling} is in two rows of the vocabulary"
            owner[spelling] = cells[1]
    # a hidden spelling never shadows a visible one in the same command
    for command, hidden in doc_hidden.items():
        assert not hidden & doc_visible.get(command, set()), command


def test_global_options_and_exit_codes_match_the_document() -> None:
    group_options = set()
    for param in forge_cli.cli.params:
        group_options |= set(param.opts) | set(param.secondary_opts)
    documented_global = set().union(*(spellings(cells[0]) for cells in doc_table("Global options")))
    assert group_options | {"-h", "--help"} == documented_global
    codes = {int(cells[0]): cells[1] for cells in doc_table("Exit codes")}
    assert codes == forge_cli.EXIT_CODES


# --- help -----------------------------------------------------------------------------------


def examples_of(help_text: str) -> list[str]:
    lines = help_text.splitlines()
    start = [i for i, line in enumerate(lines) if line.strip() == "Examples:"]
    assert len(start) == 1, "one Examples: block"
    out = []
    for line in lines[start[0] + 1 :]:
        if not line.startswith("  ") or not line.strip():
            break
        out.append(line.strip())
    return out


@pytest.mark.parametrize("name", sorted(forge_cli.COMMANDS))
def test_every_command_has_one_line_help_and_real_examples(name: str) -> None:
    command = forge_cli.load_command(name)
    assert command.help
    short = forge_cli.short_help(name)
    assert short and len(short) <= 90 and short.endswith(".")
    examples = examples_of(command.help)
    assert 1 <= len(examples) <= 3, examples
    for example in examples:
        words = shlex.split(example)
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
            words.pop(0)  # VAR=value before the command
        words = words[: words.index(">")] if ">" in words else words
        assert words[0] == "forge" and forge_cli.ALIASES.get(words[1], words[1]) == name, example
        # the example's options exist and take the values it gives (no I/O, no type conversion)
        ctx = click.Context(command, info_name=name)
        parser = command.make_parser(ctx)
        _, args, _ = parser.parse_args(words[2:])
        positional = [p for p in command.params if isinstance(p, click.Argument)]
        assert len(args) <= len(positional), example


def test_forge_help_lists_the_flow_with_check_and_every_command() -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(forge_cli.cli, ["--help"], prog_name="forge")
    assert result.exit_code == 0
    flow = result.output.split("Typical flow:")[1].split("\n\n")[0]
    assert "forge check" in flow and flow.index("forge verify") < flow.index(
        "forge check"
    ) < flow.index("forge register")
    for name in [*forge_cli.COMMANDS, *forge_cli.ALIASES]:
        assert re.search(rf"^  {re.escape(name)} ", result.output, re.MULTILINE), name
    assert "Same as forge list." in result.output
    sub = CliRunner().invoke(forge_cli.cli, ["help", "verify"], prog_name="forge")
    assert sub.exit_code == 0 and "Usage: forge verify" in sub.output and "Examples:" in sub.output
    alias = CliRunner().invoke(forge_cli.cli, ["ls", "--help"], prog_name="forge")
    assert alias.exit_code == 0 and forge_cli.short_help("list") in " ".join(alias.output.split())


def test_run_hf_max_tokens_has_help() -> None:
    command = forge_cli.load_command("run-hf")
    option = next(p for p in command.params if "--max-tokens" in p.opts)
    assert isinstance(option, click.Option) and option.help


def test_a_typo_gets_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        forge_cli.main(["chekc", "x"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "No such command 'chekc'" in err and "Did you mean 'check'?" in err


def test_version_lists_the_versions_that_matter_without_importing_them() -> None:
    code = (
        "import sys\nfrom ollama_forge.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print('@@', sorted({m.split('.')[0] for m in sys.modules} & {'llama_cpp', 'huggingface_hub', 'ollama', 'torch'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("forge, version ")
    import importlib.metadata as md

    assert f"Python: {sys.version.split()[0]}" in out
    for dist in ("llama-cpp-python", "huggingface_hub", "ollama"):
        try:
            expected = md.version(dist)
        except md.PackageNotFoundError:
            expected = "not installed"
        assert re.search(
            rf"^{re.escape(dist)} \(.*\): {re.escape(expected)}$", out, re.MULTILINE
        ), out
    assert out.rstrip().endswith("@@ []")  # read from metadata: nothing imported


# --- not found: exit 2, one wording, the error object with --json ------------------------------


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    return write_gguf(
        tmp_path / "m.gguf",
        arch="qwen2",
        chat_template=CHATML,
        tokens=chatml_vocab(),
        eos="<|im_end|>",
    )


MISSING = [
    (["inspect", "nosuch.gguf"], "nosuch.gguf"),
    (["inspect", "nosuchname"], "nosuchname"),
    (["modelfile", "nosuch.gguf"], "nosuch.gguf"),
    (["modelfile", "{gguf}", "--projector", "nosuch-mmproj.gguf"], "nosuch-mmproj.gguf"),
    (["modelfile", "{gguf}", "--system", "@nosuch.txt"], "nosuch.txt"),
    (["verify", "nosuch.gguf"], "nosuch.gguf"),
    (["render", "nosuch.gguf", "--message", "user:hi"], "nosuch.gguf"),
    (["render", "{gguf}", "--message", "user:hi", "-s", "@nosuch.txt"], "nosuch.txt"),
    (["check", "nosuch.gguf"], "nosuch.gguf"),
    (["check", "nosuchname", "--backend", "embedded"], "nosuchname"),
    (["check", "-f", "nosuch.Modelfile"], "nosuch.Modelfile"),
    (["chat", "nosuch.gguf", "-p", "hi"], "nosuch.gguf"),
    (["chat", "{gguf}", "--modelfile", "nosuch.Modelfile", "-p", "hi"], "nosuch.Modelfile"),
    (["chat", "{gguf}", "-p", "hi", "-s", "@nosuch.txt"], "nosuch.txt"),
    (["register", "x", "nosuch.gguf"], "nosuch.gguf"),
    (["register", "nosuchname"], "nosuchname"),
    (["register", "x", "-f", "nosuch.Modelfile"], "nosuch.Modelfile"),
    (["register", "x", "{gguf}", "-s", "@nosuch.txt"], "nosuch.txt"),
    (["rm", "--store-only", "nosuchname"], "nosuchname"),
    (["run-hf", "./nosuch-folder", "-p", "hi"], "./nosuch-folder"),
    (["run-hf", "owner/name", "-p", "hi", "-s", "@nosuch.txt"], "nosuch.txt"),
    (["doctor", "--probe-model", "nosuch.gguf"], "nosuch.gguf"),
]


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        forge_cli.main(argv)
    captured = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


def _expand(argv: list[str], gguf: Path) -> list[str]:
    return [a.replace("{gguf}", str(gguf)) for a in argv]


def is_not_found(data: dict[str, object]) -> bool:
    from ollama_forge import errors

    kind = getattr(errors, str(data["error"]), None)
    return data["error"] == "UsageError" or (
        isinstance(kind, type) and issubclass(kind, errors.NotFoundError)
    )


@pytest.mark.parametrize(
    ("argv", "target"), MISSING, ids=lambda v: " ".join(v) if isinstance(v, list) else ""
)
def test_a_missing_target_is_misuse_with_one_wording(
    argv: list[str], target: str, gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _expand(argv, gguf)
    code, out, err = run_main(args, capsys)
    flat = " ".join(err.split())
    assert code == 2, err
    assert f"{target!r} not found (looked for" in flat, err
    assert "Traceback" not in err and "internal error" not in err
    assert out == ""
    visible, _ = actual(forge_cli.load_command(args[0]))
    if "--json" in visible:
        code, out, err = run_main([*args, "--json"], capsys)
        assert code == 2, err
        data = json.loads(out)
        assert data["exit_code"] == 2 and is_not_found(data), data
        assert f"{target!r} not found (looked for" in data["message"]


@pytest.fixture
def ollama_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from servers.ollama_server import OllamaServer

    with OllamaServer() as server:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        yield server.url


@pytest.mark.parametrize("command", ["show", "rm", "check"])
def test_a_name_ollama_does_not_have_is_misuse_with_the_same_wording(
    command: str, ollama_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main([command, "nosuch", "--json"], capsys)
    assert code == 2, err
    data = json.loads(out)
    assert (
        data["exit_code"] == 2
        and "not found (looked for" in data["message"]
        and ollama_server in data["message"]
    )
    assert "not found (looked for" in " ".join(err.split())


def test_a_repo_the_hub_does_not_have_is_misuse_with_the_same_wording(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from servers.hub_server import HubServer

    server = HubServer().start()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    try:
        code, out, err = run_main(["quants", "owner/nosuch", "--json"], capsys)
    finally:
        server.stop()
    assert code == 2, err
    data = json.loads(out)
    assert data["error"] == "RepoNotFoundError" and data["message"].startswith(
        "'owner/nosuch' not found (looked for"
    )


def test_json_errors_for_bad_options_and_one_document_only(
    gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(["inspect", str(gguf), "--json", "--bogus"], capsys)
    assert code == 2 and "No such option" in err
    data = json.loads(out)
    assert data["error"] == "UsageError" and data["exit_code"] == 2 and "--bogus" in data["message"]
    # a command that printed its result prints no second document when it then fails
    code, out, _ = run_main(["verify", str(gguf), "--json"], capsys)
    assert code == 0 and json.loads(out)["status"] == "match"


def test_register_names_a_text_file_with_a_gguf_suffix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "text.gguf"
    fake.write_text("FROM llama3.2\nthis is not a GGUF\n")
    code, out, err = run_main(["register", "x", str(fake), "--json"], capsys)
    assert code == 1, err
    data = json.loads(out)
    assert data["error"] == "NotGGUFError" and "is not a GGUF file" in data["message"]
    assert "Modelfile" not in data["message"]


def test_modelfile_output_into_a_missing_folder_creates_it(
    gguf: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "new" / "deeper" / "Modelfile"
    (tmp_path / "system.txt").write_text("You are terse.\n", encoding="utf-8")
    code, _, err = run_main(
        [
            "modelfile",
            str(gguf),
            "-o",
            str(target),
            "-s",
            f"@{tmp_path / 'system.txt'}",
            "--max-ctx",
            "1024",
        ],
        capsys,
    )
    assert code == 0, err
    text = target.read_text(encoding="utf-8")
    assert 'SYSTEM "You are terse."' in text or "SYSTEM You are terse." in text
    assert "PARAMETER num_ctx 1024" in text  # the old spelling --max-ctx still works
    code, _, err = run_main(["modelfile", str(gguf), "-s", "@@literal"], capsys)
    assert code == 0, err


@pytest.mark.parametrize(
    "spelling", [["--num-ctx", "2048"], ["--ctx", "2048"], ["--max-ctx", "2048"]]
)
def test_old_spellings_parse_like_the_new_one(
    spelling: list[str], gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(["inspect", str(gguf), "--json", *spelling], capsys)
    assert code == 0, err
    assert json.loads(out)["memory"]["ctx"] == 2048


def test_quiet_drops_status_lines_but_not_errors(
    gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(["modelfile", str(gguf)], capsys)
    assert code == 0 and "FROM" in out and err.strip()  # the explanation goes to stderr
    code, out, err = run_main(["-q", "modelfile", str(gguf)], capsys)
    assert code == 0 and "FROM" in out and err == ""
    code, _, err = run_main(["-q", "inspect", "nosuch.gguf"], capsys)
    assert code == 2 and "'nosuch.gguf' not found" in " ".join(err.split())


def test_verbose_turns_on_forge_logging(gguf: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    logger = logging.getLogger("ollama_forge")
    before = logger.level
    try:
        code, _, _ = run_main(["-vv", "families", "--json"], capsys)
        assert code == 0 and logger.level == logging.DEBUG
    finally:
        logger.setLevel(before)


# --- doctor and the transformers runner: the Hub is probed, not assumed --------------------------


def test_doctor_probes_the_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    from servers.hub_server import HubServer

    from ollama_forge.workflows.doctor import hub_info

    down = hub_info(probe=True)  # the isolated HF_ENDPOINT is a closed port
    assert down.reachable is False and down.error
    server = HubServer().start()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    try:
        assert hub_info(probe=True).reachable is True
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        offline = hub_info(probe=True)
        assert offline.reachable is None and offline.offline
    finally:
        server.stop()


@pytest.mark.parametrize("offline", [True, False], ids=["HF_HUB_OFFLINE", "hub-unreachable"])
def test_run_hf_without_the_hub_says_so_at_once(
    offline: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, _, err = run_main(["run-hf", "owner/not-cached", "-p", "hi"], capsys)
    flat = " ".join(err.split())
    assert code == 1, err
    assert "'owner/not-cached' is not in the Hugging Face cache" in flat
    assert ("HF_HUB_OFFLINE is set" in flat) if offline else ("is unreachable" in flat)


def test_rm_store_only_forgets_without_ollama(capsys: pytest.CaptureFixture[str]) -> None:
    from ollama_forge.store import Registration, Store, StoredModel

    store = Store()
    store.put(
        StoredModel(
            name="qwen",
            registrations=[
                Registration(
                    ollama_name="qwen:latest",
                    host="http://127.0.0.1:1",
                    source="x",
                    modelfile="FROM x",
                )
            ],
        )
    )
    store.put(
        StoredModel(
            name="other",
            registrations=[
                Registration(
                    ollama_name="qwen", host="http://127.0.0.1:2", source="x", modelfile="FROM x"
                ),
                Registration(
                    ollama_name="keep", host="http://127.0.0.1:2", source="x", modelfile="FROM x"
                ),
            ],
        )
    )
    code, out, err = run_main(
        ["rm", "--store-only", "qwen", "--json"], capsys
    )  # OLLAMA_HOST is a closed port
    assert code == 0, err
    assert json.loads(out) == {
        "name": "qwen",
        "store_only": True,
        "stored_model_removed": True,
        "registration_records_removed": 1,
    }
    assert store.find("qwen") is None
    assert [r.ollama_name for r in store.get("other").registrations] == ["keep"]
    code, _, err = run_main(["rm", "--store-only", "qwen"], capsys)
    assert code == 2 and "'qwen' not found (looked for" in " ".join(err.split())


def _complete(words: str) -> list[str]:
    import os

    env = dict(
        os.environ,
        COMP_WORDS=words,
        COMP_CWORD=str(len(words.split()) - (0 if words.endswith(" ") else 1)),
        _FORGE_COMPLETE="bash_complete",
    )
    code = "import sys\nfrom ollama_forge.cli import main\nsys.argv = ['forge']\nmain()"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_shell_completion_completes_commands_options_and_paths() -> None:
    assert "plain,inspect" in _complete("forge ins")
    assert _complete("forge inspect mod") == ["file,mod"]  # the shell completes a path
    assert _complete("forge chat -f Mod") == ["file,Mod"]
    options = _complete("forge chat --")
    assert "plain,--num-ctx" in options and "plain,--file" in options
    assert not {
        "plain,--ctx",
        "plain,--max-ctx",
        "plain,--modelfile",
        "plain,--max-new-tokens",
    } & set(options)


@pytest.mark.parametrize(
    "argv", [["ps", "--json"], ["list", "--json"], ["doctor", "--json", "--host", "http://[::1"]]
)
def test_json_failures_print_the_error_object(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(argv, capsys)  # Ollama is a closed port; the last host is malformed
    data = json.loads(out)
    assert code == data["exit_code"] and code in (1, 2), err
    assert data["message"] and data["error"].endswith("Error") and "hint" in data
    assert "error:" in err  # the terminal message stays on stderr
