"""``forge.chat_model(name, ...)``: a LangChain ``ChatOllama`` with validated settings.

ChatOllama silently ignores unknown keyword arguments and has no timeout by default
(fallback.md §4). forge's wrapper:

* rejects a misspelled name with a did-you-mean (``num_predcit`` -> ``num_predict``);
* validates values with :func:`ollama_forge.modelfile.validate_parameters` (types, ranges);
* always sets a finite timeout (``client_kwargs={"timeout": ...}``), a bounded reply length
  (``num_predict`` defaults to :data:`DEFAULT_NUM_PREDICT`: Ollama >= 0.30 otherwise generates
  without limit on a model that never emits an end token) and a total ``deadline`` after which
  forge stops the generation with an :class:`~ollama_forge.errors.OllamaError`;
* accepts ``format="json"``, a JSON-schema dict, or a pydantic model class (its JSON schema);
* returns a ChatOllama subclass whose transport errors become forge's Ollama errors.
"""

from __future__ import annotations

import difflib
import math
import re
import time
from collections.abc import AsyncIterator, Iterator
from functools import lru_cache
from typing import Any

from ..errors import OllamaError, ParameterError
from ..modelfile import validate_parameters
from .client import resolve_host, translate_errors
from .names import parse_model_name

DEFAULT_CHAT_TIMEOUT = 120.0
#: seconds one generation may take in total (the timeout above is per read)
DEFAULT_CHAT_DEADLINE = 300.0
#: tokens per reply when the caller sets no num_predict
DEFAULT_NUM_PREDICT = 2048
#: ChatOllama fields that are Ollama PARAMETERs (validated with validate_parameters)
OPTION_NAMES = (
    "temperature",
    "num_predict",
    "top_k",
    "top_p",
    "repeat_penalty",
    "seed",
    "stop",
    "num_ctx",
    "num_gpu",
    "num_thread",
    "repeat_last_n",
)
#: other ChatOllama fields forge passes through
EXTRA_NAMES = ("reasoning", "validate_model_on_init", "logprobs", "top_logprobs")
#: ChatOllama fields Ollama no longer honours (removed in 0.7 / 0.5.2)
REMOVED = {"mirostat": "0.7.0", "mirostat_eta": "0.7.0", "mirostat_tau": "0.7.0", "tfs_z": "0.5.2"}
_DURATION = re.compile(r"^-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")


@lru_cache(maxsize=1)
def _chat_class() -> type:
    from langchain_ollama import ChatOllama

    class ForgeChatOllama(ChatOllama):
        """ChatOllama whose connection/response errors are forge's OllamaError subclasses and
        whose every generation ends by ``forge_deadline`` seconds."""

        forge_deadline: float = DEFAULT_CHAT_DEADLINE

        def _create_chat_stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
            end = time.monotonic() + self.forge_deadline
            parts = super()._create_chat_stream(*args, **kwargs)
            try:
                for part in parts:
                    yield part
                    if time.monotonic() > end and not _is_done(part):
                        raise _deadline_error(
                            self.model, self.forge_deadline, resolve_host(self.base_url)
                        )
            except Exception as exc:
                # a read timeout past the deadline is the deadline (the read timeout is <= it)
                if _is_timeout(exc) and time.monotonic() >= end:
                    raise _deadline_error(
                        self.model, self.forge_deadline, resolve_host(self.base_url)
                    ) from exc
                raise
            finally:
                close = getattr(parts, "close", None)
                if close is not None:
                    close()  # closes the HTTP stream: Ollama stops generating

        async def _acreate_chat_stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            end = time.monotonic() + self.forge_deadline
            parts = super()._acreate_chat_stream(*args, **kwargs)
            try:
                async for part in parts:
                    yield part
                    if time.monotonic() > end and not _is_done(part):
                        raise _deadline_error(
                            self.model, self.forge_deadline, resolve_host(self.base_url)
                        )
            except Exception as exc:
                if _is_timeout(exc) and time.monotonic() >= end:
                    raise _deadline_error(
                        self.model, self.forge_deadline, resolve_host(self.base_url)
                    ) from exc
                raise
            finally:
                aclose = getattr(parts, "aclose", None)
                if aclose is not None:
                    await aclose()

        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            with translate_errors(resolve_host(self.base_url), action="chatting"):
                return super()._generate(*args, **kwargs)

        def _stream(self, *args: Any, **kwargs: Any) -> Any:
            with translate_errors(resolve_host(self.base_url), action="chatting"):
                yield from super()._stream(*args, **kwargs)

        async def _agenerate(self, *args: Any, **kwargs: Any) -> Any:
            with translate_errors(resolve_host(self.base_url), action="chatting"):
                return await super()._agenerate(*args, **kwargs)

        async def _astream(self, *args: Any, **kwargs: Any) -> Any:
            with translate_errors(resolve_host(self.base_url), action="chatting"):
                async for chunk in super()._astream(*args, **kwargs):
                    yield chunk

    return ForgeChatOllama


def _is_timeout(exc: BaseException) -> bool:
    import httpx

    return isinstance(exc, (httpx.TimeoutException, TimeoutError))


def _is_done(part: Any) -> bool:
    done = part.get("done") if isinstance(part, dict) else getattr(part, "done", None)
    return done is True


def _deadline_error(model: str, deadline: float, host: str) -> Exception:

    return OllamaError(
        f"forge stopped the generation of {model!r} after its {deadline:g} s deadline: the reply was not "
        "finished",
        hint="Pass a larger deadline= or a smaller num_predict= to chat_model(); a model that never stops "
        "usually lacks a stop string or a chat template (`forge check NAME`).",
        host=host,
        deadline=deadline,
        model=model,
    )


def _unknown(name: str) -> ParameterError:
    if name in REMOVED:
        return ParameterError(
            f"chat_model() parameter {name!r} was removed from Ollama in {REMOVED[name]}; it would be ignored",
            hint="Drop it (ChatOllama still accepts it, Ollama does not use it).",
            name=name,
        )
    known = [*OPTION_NAMES, *EXTRA_NAMES, "format", "keep_alive", "host", "timeout", "deadline"]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = (
        f"Did you mean {close[0]!r}?" if close else f"Known parameters: {', '.join(sorted(known))}"
    )
    return ParameterError(f"chat_model() got an unknown parameter {name!r}", hint=hint, name=name)


def _format(value: Any) -> str | dict[str, Any] | None:
    if value is None or value == "":
        return None
    if value == "json":
        return "json"
    if isinstance(value, dict):
        return value
    if isinstance(value, type):
        schema = getattr(value, "model_json_schema", None)
        if callable(schema):
            result: dict[str, Any] = schema()
            return result
    raise ParameterError(
        f"format must be 'json', a JSON schema dict or a pydantic model class, not {value!r}",
        hint="format='json', or format=MyAnswer (a pydantic BaseModel subclass)",
        name="format",
    )


def _keep_alive(value: Any) -> int | str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ParameterError(
            "keep_alive must be seconds (int) or a duration like '5m', not a bool",
            name="keep_alive",
        )
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value  # type: ignore[return-value]
    if isinstance(value, str) and (_DURATION.match(value) or re.match(r"^-?\d+$", value)):
        return value
    raise ParameterError(
        f"keep_alive {value!r} is not a duration",
        hint="Use seconds (300, -1 = forever, 0 = unload) or '5m', '1h30m'.",
        name="keep_alive",
    )


def chat_model(
    name: str,
    *,
    temperature: float | None = None,
    format: Any = None,
    num_predict: int | None = None,
    top_k: int | None = None,
    top_p: float | None = None,
    repeat_penalty: float | None = None,
    seed: int | None = None,
    stop: list[str] | str | None = None,
    keep_alive: int | str | None = None,
    num_ctx: int | None = None,
    host: str | None = None,
    timeout: float = DEFAULT_CHAT_TIMEOUT,
    deadline: float = DEFAULT_CHAT_DEADLINE,
    **more: Any,
) -> Any:
    """A ``langchain_ollama.ChatOllama`` for the Ollama model ``name`` (no I/O until used).

    ``timeout``: seconds without a byte from the server; ``deadline``: seconds for a whole reply;
    ``num_predict``: the reply's token limit (default :data:`DEFAULT_NUM_PREDICT`, -1 = none).
    """

    parse_model_name(name)
    for key in more:
        if key not in OPTION_NAMES and key not in EXTRA_NAMES:
            raise _unknown(key)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise ParameterError(
            f"timeout must be a positive number of seconds, not {timeout!r}", name="timeout"
        )
    if (
        isinstance(deadline, bool)
        or not isinstance(deadline, (int, float))
        or not math.isfinite(deadline)
        or deadline <= 0
    ):
        raise ParameterError(
            f"deadline must be a positive number of seconds, not {deadline!r}", name="deadline"
        )
    if num_predict is None:
        num_predict = DEFAULT_NUM_PREDICT
    if isinstance(stop, str):
        stop = [stop]
    given = {
        "temperature": temperature,
        "num_predict": num_predict,
        "top_k": top_k,
        "top_p": top_p,
        "repeat_penalty": repeat_penalty,
        "seed": seed,
        "stop": stop,
        "num_ctx": num_ctx,
        **{k: v for k, v in more.items() if k in OPTION_NAMES},
    }
    options = validate_parameters({k: v for k, v in given.items() if v is not None})
    fields: dict[str, Any] = dict(options)
    fields.update({k: v for k, v in more.items() if k in EXTRA_NAMES and v is not None})
    fmt = _format(format)
    if fmt is not None:
        fields["format"] = fmt
    alive = _keep_alive(keep_alive)
    if alive is not None:
        fields["keep_alive"] = alive
    cls = _chat_class()
    return cls(
        model=name,
        base_url=resolve_host(host),
        client_kwargs={"timeout": float(min(timeout, deadline))},
        forge_deadline=float(deadline),
        **fields,
    )
