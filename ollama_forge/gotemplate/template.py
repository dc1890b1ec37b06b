"""The public Template object: parse once, execute against Go-shaped data."""

from __future__ import annotations

import copy
from typing import Any

from ollama_forge.errors import GoTemplateError

from . import nodes as n
from .exec import ExecError, State
from .funcs import BUILTINS, OLLAMA_FUNCS, Func
from .parser import parse_trees


class Template:
    """A parsed Go text/template with Ollama's FuncMap and ``missingkey=zero``."""

    def __init__(
        self,
        text: str,
        name: str,
        trees: dict[str, n.ListNode],
        funcs: dict[str, Func],
        missingkey_zero: bool = True,
        parse_name: str | None = None,
    ) -> None:
        self.text = text
        # Name that error locations cite (Go: the tree's ParseName), when it differs from name.
        self.parse_name = name if parse_name is None else parse_name
        self.name = name
        self.trees = trees
        self.funcs = funcs
        self.missingkey_zero = missingkey_zero

    @property
    def root(self) -> n.ListNode:
        return self.trees[self.name]

    def execute(self, data: Any) -> str:
        """Execute against ``data`` (dict = map[string]any; see values.py for typed data)."""
        state = State(self.trees, self.name, self.text, self.funcs, self.missingkey_zero)
        state.parse_name = self.parse_name
        state.push("$", data)
        try:
            state.walk((data, False), self.root)
        except ExecError as err:
            raise state.format_error(err) from None
        except RecursionError:
            raise GoTemplateError(
                f"template: {self.name}: template nesting too deep",
                hint="Simplify the template's nesting.",
                template=self.name,
            ) from None
        return "".join(state.out)

    def vars(self) -> set[str]:
        """Lowercased field and variable identifiers (Ollama's Template.Vars).

        Like Ollama, raises GoTemplateError for ``{{template "x"}}`` without an argument
        (Ollama then refuses the whole template).
        """
        out: set[str] = set()
        for tree in self.trees.values():
            for node in tree.nodes:
                try:
                    out.update(i.lower() for i in n.walk_identifiers(node))
                except n.UndefinedTemplate as err:
                    raise GoTemplateError(
                        str(err),
                        hint='Pass a value to every {{ template "name" . }} call: '
                        "Ollama rejects templates that call one without an argument.",
                        template=self.name,
                    ) from None
        return out

    def copy(self) -> Template:
        return Template(
            self.text,
            self.name,
            copy.deepcopy(self.trees),
            self.funcs,
            self.missingkey_zero,
            self.parse_name,
        )


def parse(text: str, name: str = "template", *, funcs: dict[str, Func] | None = None) -> Template:
    """Parse ``text`` like ``template.New(name).Option("missingkey=zero").Funcs(ollama).Parse``.

    Raises GoTemplateError (``line``/``col`` fields) with Go's message.
    """
    table = dict(BUILTINS)
    table.update(OLLAMA_FUNCS if funcs is None else funcs)
    trees = parse_trees(text, name, set(table))
    if name not in trees:
        trees[name] = n.ListNode(0)
    return Template(text, name, trees, table)
