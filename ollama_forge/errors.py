"""The one exception tree of ollama_forge.

Every failure forge reports is a :class:`ForgeError` (or subclass). Each carries a
human message, an optional ``hint`` that names the fix, and structured ``fields``
for scripts (``--json`` output and notebook users). The CLI turns these into
terminal messages in exactly one place (:mod:`ollama_forge.cli`); transport
errors from httpx / huggingface_hub / ollama are converted at their own choke
points (hub and ollama client modules), never scattered.

Exit codes: 1 for runtime failures, 2 for misuse (:class:`UsageError`).
"""

from __future__ import annotations

from typing import Any, TypeVar


class ForgeError(Exception):
    """Base class of every error forge raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.fields: dict[str, Any] = fields
        # Fields a class declares (typed, with a default) become real attributes; the others
        # stay readable through __getattr__.
        declared = {
            name for cls in type(self).__mro__ for name in getattr(cls, "__annotations__", {})
        }
        for name, value in fields.items():
            if name in declared and name not in ("exit_code", "message", "hint", "fields"):
                setattr(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Fields are readable as attributes (err.path, err.line, ...).
        fields = self.__dict__.get("fields")
        if fields is not None and name in fields:
            return fields[name]
        raise AttributeError(name)

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly description (used by ``--json`` error output)."""
        out: dict[str, Any] = {"error": type(self).__name__, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        for key, value in self.fields.items():
            out[key] = (
                value
                if isinstance(value, (str, int, float, bool, type(None), list, dict))
                else str(value)
            )
        return out


class UsageError(ForgeError):
    """The command was called wrongly (bad flag combination, bad argument shape)."""

    exit_code = 2


_E = TypeVar("_E", bound="NotFoundError")


class NotFoundError(UsageError):
    """A path or name given by the user names nothing (misuse: exit 2).

    Every "not found" reads the same way, built by :meth:`of`:
    ``'X' not found (looked for <what was searched>)``; ``target`` holds X.
    """

    @classmethod
    def of(
        cls: type[_E], target: object, looked_for: str, *, hint: str | None = None, **fields: Any
    ) -> _E:
        fields.setdefault("target", str(target))
        return cls(f"{str(target)!r} not found (looked for {looked_for})", hint=hint, **fields)


class MissingExtraError(ForgeError):
    """An optional dependency group is not installed (``extra`` names it)."""


class ConfigError(UsageError):
    """An environment variable, option or configuration value is invalid (misuse: exit 2).

    ``variable`` names the variable or option, e.g. ``OLLAMA_HOST``.
    """


# --- GGUF -------------------------------------------------------------------------------


class GGUFError(ForgeError):
    """A GGUF file could not be read or is not acceptable."""


class NotGGUFError(GGUFError):
    """The bytes are not a GGUF file (``kind`` says what they look like)."""


class GGUFTruncatedError(GGUFError):
    """The file ends inside a field. ``needed`` is the offset that was required."""


class GGUFFormatError(GGUFError):
    """The file is a GGUF but violates the format or forge's safety limits."""


class SplitError(GGUFError):
    """Shards of a split GGUF are inconsistent, missing or duplicated."""


# --- Modelfile ----------------------------------------------------------------------------


class ModelfileError(ForgeError):
    """A Modelfile could not be parsed or cannot be written faithfully."""


class ModelfileParseError(ModelfileError):
    """Ollama's parser would reject this text. ``line`` follows Ollama's numbering."""


class ModelfileRenderError(ModelfileError):
    """A value cannot be represented in Ollama's Modelfile grammar."""


class ParameterError(ModelfileError):
    """A PARAMETER is unknown, removed, mistyped or out of range."""


# --- Families and templates -------------------------------------------------------------


class FamilyError(ForgeError):
    """A model family is unknown or its template file is broken."""


class TemplateError(ForgeError):
    """Base for template problems (Go templates and Jinja chat templates)."""


class GoTemplateError(TemplateError):
    """A Go text/template failed to parse or execute (``line``/``col`` when known)."""


class ChatTemplateError(TemplateError):
    """A model's Jinja chat template failed to render, or was refused by the sandbox.

    ``kind``: what went wrong (``raise_exception``, ``Timeout``, ``WorkerDied``, a sandbox
    refusal, ...); ``template_message``: the text of the template's own ``raise_exception``.
    """

    kind: str | None = None
    template_message: str | None = None


class VerificationError(ForgeError):
    """The Modelfile TEMPLATE does not reproduce the model's own chat template."""


# --- Hub ----------------------------------------------------------------------------------


class HubError(ForgeError):
    """A Hugging Face Hub request failed (``status``: the HTTP status, when there was one)."""

    status: int | None = None


class RepoNotFoundError(HubError, NotFoundError):
    """The Hub has no such thing (a missing name: exit 2)."""


class RevisionNotFoundError(HubError, NotFoundError):
    """The Hub has no such thing (a missing name: exit 2)."""


class EntryNotFoundError(HubError, NotFoundError):
    """The Hub has no such thing (a missing name: exit 2)."""


class GatedRepoError(HubError):
    """401/403: the repo is gated or private; HF_TOKEN is missing or lacks access."""


class OfflineError(HubError):
    """HF_HUB_OFFLINE is set and the requested files are not in the cache."""


class QuantSelectionError(HubError):
    """No variant (or more than one) matches the requested quant/file."""


class IntegrityError(HubError):
    """A downloaded file's SHA-256 does not match the Hub's LFS metadata."""


class UnsafeNameError(ForgeError):
    """A remote file name or digest would escape its folder or is malformed."""


# --- Store --------------------------------------------------------------------------------


class StoreError(ForgeError):
    """forge's local store is unreadable, locked or lacks the named model."""


class ModelNotFoundError(StoreError, NotFoundError):
    """No model of that name (a misuse like any missing target: exit 2)."""


# --- Ollama -------------------------------------------------------------------------------


class OllamaError(ForgeError):
    """Talking to an Ollama server failed."""


class OllamaConnectionError(OllamaError):
    """Ollama is not reachable at ``host`` (not running, wrong host, or timeout)."""


class OllamaResponseError(OllamaError):
    """Ollama answered with an error (``status`` is -1 for an in-stream error).

    ``server_error``: the server's own error text.
    """

    status: int | None = None
    server_error: str | None = None


class OllamaModelNotFoundError(OllamaResponseError, NotFoundError):
    """Ollama answered 404 "model not found" (a missing name: exit 2)."""


class NotFoundOllamaDownError(OllamaConnectionError, NotFoundError):
    """Not found locally while Ollama, where it might be, is unreachable (a missing target: exit 2)."""


class ModelNameError(OllamaError):
    """A model name violates Ollama's naming rules."""


# --- Runners ------------------------------------------------------------------------------


class DeviceError(ForgeError):
    """A requested torch device or dtype is not available."""


class RuntimeBackendError(ForgeError):
    """The embedded runtime (llama.cpp) or transformers pipeline failed."""


class CheckFailedError(ForgeError):
    """``forge check`` found a model that rambles or is cut short."""


class ForgeWarning(UserWarning):
    """A problem forge reports and carries on (``warnings.warn``; the CLI prints ``warning: ...``)."""
