"""Every exchange recorded from a real Ollama 0.32.15 server, replayed against the stand-in.

The stand-in (tests/servers/ollama_server.py) must answer each recorded request as the real
server did: status, content type, streamed or not, exact error texts and the JSON shape
(fields present/absent and their order; values where they do not depend on the model files,
the clock or Go's map order). Generation needs a model: the fake model is scripted with the
recorded reply, and the stand-in's own num_predict / stop / end-of-generation logic must
arrive at the recorded ``done_reason``.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from replay import Digests, Inputs, Mismatch, compare, plan, request_body
from servers.ollama_server import OllamaServer


def _send(
    server: OllamaServer, record: dict[str, Any], body: bytes | None
) -> tuple[int, list[tuple[str, str]], bytes]:
    req = record["request"]
    port = int(server.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {k: v for k, v in req["headers"].items() if k in ("Content-Type", "Accept")}
    if record["name"] == "options-preflight-with-origin":
        headers["Origin"] = "http://localhost"  # the recorder kept only the content headers
    try:
        if req["headers"].get("Transfer-Encoding") == "chunked":

            def chunks() -> Iterator[bytes]:
                data = body or b""
                for i in range(0, len(data), 4096):
                    yield data[i : i + 4096]

            conn.request(
                req["method"], _path(record), body=chunks(), headers=headers, encode_chunked=True
            )
        else:
            conn.request(req["method"], _path(record), body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


_DIGESTS: Digests | None = None


def _path(record: dict[str, Any]) -> str:
    assert _DIGESTS is not None
    return _DIGESTS.to_actual(record["request"]["path"])


def _script(server: OllamaServer, record: dict[str, Any]) -> None:
    """Give the fake model the recorded reply (longer when the real one was cut by num_predict)."""
    req = record["request"]["body"]
    resp = record["response"]
    if not isinstance(req, dict) or resp["status"] != 200:
        return
    objs = [json.loads(x) for x in resp["lines"]] if "lines" in resp else [json.loads(resp["body"])]
    text = "".join(
        (o.get("message") or {}).get("content", "") if "message" in o else o.get("response", "")
        for o in objs
    )
    reason = objs[-1].get("done_reason")
    if reason == "length":
        text += " and it goes on" * 20
    elif reason == "stop" and (req.get("options") or {}).get("stop"):
        text += req["options"]["stop"][0] + " and more"
    if "prompt" in req:
        prompt = req.get("prompt") or ""
    else:
        prompt = (req.get("messages") or [{}])[-1].get("content", "")
    server.state.replies[(req.get("model"), prompt)] = text
    server.state.faults.kill_runner_after = (
        1 if record["name"] == "runner-killed-mid-stream" else None
    )


def test_every_recorded_exchange_replays(tmp_path: Path) -> None:
    global _DIGESTS
    inputs = Inputs(tmp_path / "inputs")
    digests = _DIGESTS = Digests()
    inputs.seed(digests)
    failures: list[str] = []
    records = plan()
    with OllamaServer(tmp_path / "models", version="0.32.15") as server:
        server.state.gpu = False  # the recording server was a CPU build
        root = str(server.state.root)
        for f, record in records:
            if f in ("generate", "chat"):
                _script(server, record)
            sent = request_body(record, inputs, digests)
            status, headers, body = _send(server, record, sent)
            try:
                compare(record, status, headers, body, digests, root, sent or b"")
            except (Mismatch, ValueError) as exc:
                failures.append(f"{f}/{record['name']}: {exc}")
    matched = len(records) - len(failures)
    print(f"replay coverage: {matched}/{len(records)} recorded exchanges matched")
    assert not failures, f"{len(failures)} of {len(records)} exchanges differ:\n" + "\n".join(
        failures
    )


def test_replay_plan_covers_every_record_once() -> None:
    from replay import FILES, load

    steps = [(f, r["name"]) for f, r in plan()]
    assert len(steps) == sum(len(load(f)) for f in FILES) == 316
    assert steps.index(("generate", "load-smollm2-empty-prompt-keepalive-10m")) < steps.index(
        ("ps", "ps-one-model-smollm2")
    )


@pytest.mark.parametrize("broken", ["status", "error text", "field"])
def test_the_comparison_catches_a_difference(broken: str) -> None:
    """The replay's comparison is not a tautology: a changed answer is reported."""
    record = {
        "name": "x",
        "request": {"body": None},
        "response": {
            "status": 404,
            "headers": {"Content-Type": "application/json; charset=utf-8", "Content-Length": "41"},
            "body": '{"error":"model \'nope:latest\' not found"}',
        },
    }
    body = {
        "status": b'{"error":"model \'nope:latest\' not found"}',
        "error text": b'{"error":"model \'nope\' not found"}',
        "field": b'{"error":"model \'nope:latest\' not found","status":404}',
    }[broken]
    status = 400 if broken == "status" else 404
    headers = [
        ("Content-Type", "application/json; charset=utf-8"),
        ("Content-Length", str(len(body))),
    ]
    with pytest.raises(Mismatch):
        compare(record, status, headers, body, Digests(), "/tmp/x")
