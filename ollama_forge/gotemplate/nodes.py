"""Parse-tree nodes of Go text/template (text/template/parse/node.go).

``str(node)`` reproduces Go's Node.String(), which appears in error messages
("executing ... at <.Foo>") and in "unexpected {{end}}" parse errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Node:
    pos: int

    def __str__(self) -> str:  # pragma: no cover - every subclass overrides
        return "?"


@dataclass
class TextNode(Node):
    text: str = ""

    def __str__(self) -> str:
        return self.text


@dataclass
class ListNode(Node):
    nodes: list[Node] = field(default_factory=list)

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)


@dataclass
class DotNode(Node):
    def __str__(self) -> str:
        return "."


@dataclass
class NilNode(Node):
    def __str__(self) -> str:
        return "nil"


@dataclass
class BoolNode(Node):
    value: bool = False

    def __str__(self) -> str:
        return "true" if self.value else "false"


@dataclass
class NumberNode(Node):
    text: str = ""
    is_int: bool = False
    is_float: bool = False
    int_value: int = 0
    float_value: float = 0.0

    def __str__(self) -> str:
        return self.text


@dataclass
class StringNode(Node):
    quoted: str = ""
    text: str = ""

    def __str__(self) -> str:
        return self.quoted


@dataclass
class FieldNode(Node):
    ident: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "".join("." + i for i in self.ident)


@dataclass
class VariableNode(Node):
    ident: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return ".".join(self.ident)


@dataclass
class IdentifierNode(Node):
    name: str = ""

    def __str__(self) -> str:
        return self.name


@dataclass
class CommandNode(Node):
    args: list[Node] = field(default_factory=list)

    def __str__(self) -> str:
        parts = []
        for arg in self.args:
            parts.append(f"({arg})" if isinstance(arg, PipeNode) else str(arg))
        return " ".join(parts)


@dataclass
class PipeNode(Node):
    line: int = 0
    is_assign: bool = False
    decl: list[VariableNode] = field(default_factory=list)
    cmds: list[CommandNode] = field(default_factory=list)

    def __str__(self) -> str:
        out = ""
        if self.decl:
            out = ", ".join(str(v) for v in self.decl) + (" = " if self.is_assign else " := ")
        return out + " | ".join(str(c) for c in self.cmds)


@dataclass
class ChainNode(Node):
    node: Node | None = None
    fields: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        base = f"({self.node})" if isinstance(self.node, PipeNode) else str(self.node)
        return base + "".join("." + f for f in self.fields)


@dataclass
class ActionNode(Node):
    line: int = 0
    pipe: PipeNode | None = None

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


@dataclass
class BranchNode(Node):
    line: int = 0
    pipe: PipeNode | None = None
    list: ListNode | None = None
    else_list: ListNode | None = None
    keyword = "branch"

    def __str__(self) -> str:
        out = "{{" + self.keyword + " " + str(self.pipe) + "}}" + str(self.list)
        if self.else_list is not None:
            out += "{{else}}" + str(self.else_list)
        return out + "{{end}}"


@dataclass
class IfNode(BranchNode):
    keyword = "if"


@dataclass
class RangeNode(BranchNode):
    keyword = "range"


@dataclass
class WithNode(BranchNode):
    keyword = "with"


@dataclass
class TemplateNode(Node):
    line: int = 0
    name: str = ""
    pipe: PipeNode | None = None

    def __str__(self) -> str:
        from .literals import go_quote

        if self.pipe is None:
            return "{{template " + go_quote(self.name) + "}}"
        return "{{template " + go_quote(self.name) + " " + str(self.pipe) + "}}"


@dataclass
class BreakNode(Node):
    line: int = 0

    def __str__(self) -> str:
        return "{{break}}"


@dataclass
class ContinueNode(Node):
    line: int = 0

    def __str__(self) -> str:
        return "{{continue}}"


@dataclass
class EndNode(Node):
    def __str__(self) -> str:
        return "{{end}}"


@dataclass
class ElseNode(Node):
    line: int = 0

    def __str__(self) -> str:
        return "{{else}}"


class UndefinedTemplate(ValueError):
    """Raised by walk_identifiers like Ollama's Identifiers error."""


def walk_identifiers(node: Node | None) -> list[str]:
    """Ollama's template.Identifiers: field and variable identifiers, depth first.

    Like Ollama it does not descend into ChainNode operands or template bodies.
    """
    if node is None:
        return []
    if isinstance(node, ListNode):
        out: list[str] = []
        for n in node.nodes:
            out.extend(walk_identifiers(n))
        return out
    if isinstance(node, TemplateNode) and node.pipe is None:
        # Ollama's Identifiers refuses {{template "name"}} without an argument.
        raise UndefinedTemplate("undefined template specified")
    if isinstance(node, (TemplateNode, ActionNode)):
        return walk_identifiers(node.pipe)
    if isinstance(node, BranchNode):
        out = walk_identifiers(node.pipe)
        out.extend(walk_identifiers(node.list))
        if node.else_list is not None:
            out.extend(walk_identifiers(node.else_list))
        return out
    if isinstance(node, PipeNode):
        out = []
        for cmd in node.cmds:
            for arg in cmd.args:
                out.extend(walk_identifiers(arg))
        return out
    if isinstance(node, (FieldNode, VariableNode)):
        return list(node.ident)
    return []
