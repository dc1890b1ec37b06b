"""The Jinja environment of a chat template, configured exactly like transformers' chat templates.

Built in the render worker (:mod:`.jinja_worker`) and, for parsing only, in-process
(:mod:`.jinja`); a module of its own so neither imports the other for it.
"""

from __future__ import annotations

import functools
import json
from typing import Any

MAX_OUTPUT_CHARS = 1024 * 1024
# strftime_now(fmt) renders as DATE_MARK_OPEN + fmt + DATE_MARK_CLOSE when date_marker=True
# (used by synthesis to find where a template prints the current date).
DATE_MARK_OPEN = "\x02date:"
DATE_MARK_CLOSE = "\x03"


def make_environment(*, date_marker: bool) -> Any:
    """An ImmutableSandboxedEnvironment configured exactly like transformers' chat templates."""
    from contextlib import contextmanager
    from contextvars import ContextVar
    from datetime import datetime

    import jinja2
    import jinja2.ext
    import jinja2.nodes
    import jinja2.utils
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class AssistantTracker(jinja2.ext.Extension):
        tags = {"generation"}  # noqa: RUF012 - jinja2 Extension API

        def __init__(self, environment: Any) -> None:
            super().__init__(environment)
            environment.extend(activate_tracker=self.activate_tracker)
            self._tracking: ContextVar[Any] = ContextVar("assistant_tracker", default=None)

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.CallBlock(
                self.call_method("_generation_support"), [], [], body
            ).set_lineno(lineno)

        @jinja2.pass_eval_context
        def _generation_support(self, context: Any, caller: Any) -> str:
            rv: str = caller()
            tracking = self._tracking.get()
            if tracking is not None:
                rendered_blocks, generation_indices = tracking
                start = len("".join(rendered_blocks))
                generation_indices.append((start, start + len(rv)))
            return rv

        @contextmanager
        def activate_tracker(
            self, rendered_blocks: list[str], generation_indices: list[Any]
        ) -> Any:
            token = self._tracking.set((rendered_blocks, generation_indices))
            try:
                yield
            finally:
                self._tracking.reset(token)

    def raise_exception(message: Any) -> None:
        raise raised_class()(message)

    def tojson(
        x: Any,
        ensure_ascii: bool = False,
        indent: Any = None,
        separators: Any = None,
        sort_keys: bool = False,
    ) -> str:
        return json.dumps(
            x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
        )

    def strftime_now(format: Any) -> str:
        if date_marker:
            return f"{DATE_MARK_OPEN}{format}{DATE_MARK_CLOSE}"
        return datetime.now().strftime(format)

    class TemplateDict:
        def __call__(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
            return dict(*args, **kwargs)

        def fromkeys(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
            return dict.fromkeys(*args, **kwargs)

    class TemplateNamespace(jinja2.utils.Namespace):
        def __init__(*args: Any, **kwargs: Any) -> None:
            self, rest = args[0], args[1:]
            attrs = dict(*rest, **kwargs)
            for name in attrs:
                TemplateNamespace._check_name(name)
            jinja2.utils.Namespace.__init__(self, attrs)

        def __setitem__(self, name: str, value: Any) -> None:
            TemplateNamespace._check_name(name)
            jinja2.utils.Namespace.__setitem__(self, name, value)

        @staticmethod
        def _check_name(name: Any) -> None:
            if isinstance(name, str) and name.startswith("_"):
                raise jinja2.exceptions.SecurityError(
                    "Chat templates cannot store underscore-prefixed attributes on a namespace, "
                    f"but got {name!r}. Please rename the attribute."
                )

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    env.globals["dict"] = TemplateDict()
    env.globals["namespace"] = TemplateNamespace
    return env


@functools.lru_cache(maxsize=1)
def raised_class() -> type[Exception]:
    """The exception raise_exception() throws: a jinja2 TemplateError, as in transformers."""
    import jinja2

    class TemplateRaised(jinja2.exceptions.TemplateError):
        pass

    return TemplateRaised
