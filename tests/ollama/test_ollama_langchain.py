"""forge.chat_model: validated ChatOllama, run end to end against the local server."""

from __future__ import annotations

from pathlib import Path

import pytest
from ollama_helpers import write_modelfile
from pydantic import BaseModel
from servers.ollama_server import OllamaServer

from ollama_forge.errors import (
    ModelNameError,
    OllamaConnectionError,
    OllamaResponseError,
    ParameterError,
)
from ollama_forge.ollama.langchain import chat_model
from ollama_forge.workflows.register import register


class Answer(BaseModel):
    city: str
    population: int


@pytest.fixture
def tiny(server: OllamaServer, chatml_gguf: Path) -> OllamaServer:
    register("tiny", modelfile=write_modelfile(chatml_gguf.parent, "./tiny-q4_k_m.gguf"))
    server.state.requests.clear()
    return server


def test_invoke_end_to_end_sends_validated_options(tiny: OllamaServer) -> None:
    from langchain_ollama import ChatOllama

    llm = chat_model(
        "tiny",
        temperature=0.2,
        num_predict=50,
        top_k=10,
        top_p=0.5,
        repeat_penalty=1.1,
        seed=42,
        stop="<|im_end|>",
        keep_alive="5m",
        num_ctx=2048,
    )
    assert isinstance(llm, ChatOllama)
    reply = llm.invoke("Hello?")
    assert reply.content == "Hello! I am a test model."
    assert reply.response_metadata["done_reason"] == "stop"
    [req] = tiny.state.requests_to("POST", "/api/chat")
    body = req.json
    assert body["model"] == "tiny"
    assert body["keep_alive"] == "5m"
    assert body["options"] == {
        "num_ctx": 2048,
        "num_predict": 50,
        "repeat_penalty": 1.1,
        "seed": 42,
        "stop": ["<|im_end|>"],
        "temperature": 0.2,
        "top_k": 10,
        "top_p": 0.5,
    }


def test_stream_and_length_limit(tiny: OllamaServer) -> None:
    chunks = list(chat_model("tiny", num_predict=2).stream("Hi"))
    text = "".join(str(c.content) for c in chunks)
    assert text == "Hello! I"  # tokens carry their leading space, as Ollama streams them
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert total.response_metadata["done_reason"] == "length"


def test_format_pydantic_class_becomes_schema(tiny: OllamaServer) -> None:
    llm = chat_model("tiny", format=Answer)
    reply = llm.invoke("Largest city?")
    assert Answer.model_validate_json(str(reply.content)) == Answer(city="hello", population=1)
    body = tiny.state.requests_to("POST", "/api/chat")[0].json
    assert body["format"] == Answer.model_json_schema()


def test_format_json(tiny: OllamaServer) -> None:
    import json

    reply = chat_model("tiny", format="json").invoke("x")
    assert json.loads(str(reply.content)) == {"reply": "Hello! I am a test model."}


def test_default_timeout_is_finite() -> None:
    llm = chat_model("tiny")
    assert llm.client_kwargs == {"timeout": 120.0}
    assert chat_model("tiny", timeout=5).client_kwargs == {"timeout": 5.0}


def test_host_argument(tiny: OllamaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    llm = chat_model("tiny", host=tiny.url)
    assert llm.base_url == tiny.url
    assert llm.invoke("hi").content


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_predcit": 5}, "Did you mean 'num_predict'"),
        ({"temprature": 0.5}, "Did you mean 'temperature'"),
        ({"mirostat": 1}, "removed from Ollama"),
    ],
)
def test_misspelled_parameter_is_an_error(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ParameterError) as info:
        chat_model("tiny", **kwargs)  # type: ignore[arg-type]
    assert match in f"{info.value.message} {info.value.hint}"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"temperature": "hot"},
        {"num_ctx": 1.5},
        {"top_k": "ten"},
        {"format": "yaml"},
        {"keep_alive": "five minutes"},
        {"timeout": 0},
        {"timeout": float("inf")},
    ],
)
def test_bad_values_are_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ParameterError):
        chat_model("tiny", **kwargs)  # type: ignore[arg-type]


def test_invalid_model_name() -> None:
    with pytest.raises(ModelNameError):
        chat_model("not a name")


def test_unreachable_server_is_a_forge_error() -> None:
    llm = chat_model("tiny")
    with pytest.raises(OllamaConnectionError) as info:
        llm.invoke("hi")
    assert "OLLAMA_HOST" in info.value.message
    with pytest.raises(OllamaConnectionError):
        list(llm.stream("hi"))


def test_missing_model_is_a_response_error(server: OllamaServer) -> None:
    with pytest.raises(OllamaResponseError, match="model 'ghost' not found"):
        chat_model("ghost").invoke("hi")


def test_generate_through_the_ollama_client(tiny: OllamaServer) -> None:
    from ollama_forge.ollama.client import make_client

    client = make_client()
    out = client.generate("tiny", "Say hi", options={"num_predict": 1})
    assert out.response == "Hello!"
    assert out.done_reason == "length"
    assert client.generate("tiny", "").done_reason == "load"
