"""Configuration is read from the environment at call time."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollama_forge import config
from ollama_forge.errors import ConfigError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", "http://127.0.0.1:11434"),
        ("example.com", "http://example.com:11434"),
        ("example.com:1234", "http://example.com:1234"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("http://10.0.0.5", "http://10.0.0.5:11434"),
        ("https://ollama.example.com", "https://ollama.example.com:443"),
        ("https://ollama.example.com:8443/", "https://ollama.example.com:8443"),
        ("http://[::1]:11434", "http://[::1]:11434"),
        ("http://host:80/prefix/", "http://host:80/prefix"),
    ],
)
def test_normalize_ollama_host(raw: str, expected: str) -> None:
    assert config.normalize_ollama_host(raw) == expected


def test_bad_scheme_names_fix() -> None:
    with pytest.raises(ConfigError) as exc:
        config.normalize_ollama_host("ftp://x")
    assert exc.value.hint and "http://" in exc.value.hint


def test_values_are_read_at_call_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "a:1")
    assert config.ollama_host() == "http://a:1"
    monkeypatch.setenv("OLLAMA_HOST", "b:2")
    assert config.ollama_host() == "http://b:2"
    monkeypatch.setenv("FORGE_HOME", str(tmp_path / "fh"))
    assert config.forge_home() == tmp_path / "fh"
    monkeypatch.setenv("FORGE_MODELS_DIR", str(tmp_path / "m"))
    assert config.models_dir() == tmp_path / "m"
    monkeypatch.delenv("FORGE_MODELS_DIR")
    assert config.models_dir() == Path.cwd() / "models"
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9/")
    assert config.hf_endpoint() == "http://127.0.0.1:9"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert config.hf_offline()
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert config.hf_hub_cache() == tmp_path / "hf" / "hub"


def test_forge_home_defaults_to_user_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("FORGE_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert config.forge_home() == tmp_path / "xdg" / "ollama-forge"


@pytest.mark.parametrize(
    "raw",
    [
        "http://[::1",
        "http://host:99999",
        "http://a b",
        "http://user:pw@host:1",
        "http://host:1/?q=1",
        "http://:x",
    ],
)
def test_malformed_ollama_host_is_a_usage_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", raw)
    with pytest.raises(ConfigError) as exc:
        config.ollama_host()
    assert exc.value.exit_code == 2
    assert "OLLAMA_HOST" in exc.value.message and exc.value.hint and "OLLAMA_HOST" in exc.value.hint
    with pytest.raises(ConfigError) as opt:
        config.normalize_ollama_host(raw)  # the same value given as --host names the option
    assert "--host" in opt.value.message


def test_port_only_host_keeps_working() -> None:
    assert config.normalize_ollama_host(":1234") == "http://127.0.0.1:1234"


@pytest.mark.parametrize("raw", ["http://[::1", "huggingface.co", "ftp://hub", "http://a b"])
def test_malformed_hf_endpoint_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("HF_ENDPOINT", raw)
    with pytest.raises(ConfigError) as exc:
        config.hf_endpoint()
    assert exc.value.exit_code == 2 and "HF_ENDPOINT" in exc.value.message
