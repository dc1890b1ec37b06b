"""Parser for Go text/template, a port of text/template/parse/parse.go.

Produces one tree per template name (the main one plus {{define}}/{{block}} bodies).
Errors carry Go's exact message ("template: NAME:LINE: ...") plus line/col fields.
"""

from __future__ import annotations

from ollama_forge.errors import GoTemplateError

from . import nodes as n
from .lexer import Item, Lexer, T
from .literals import go_unquote, parse_go_number

_HINT = "Fix the Go template syntax (see https://pkg.go.dev/text/template)."


class _Parse(Exception):
    """Internal: unwinds the parser; converted to GoTemplateError at the top."""

    def __init__(self, msg: str, line: int, pos: int) -> None:
        super().__init__(msg)
        self.msg = msg
        self.line = line
        self.pos = pos


class Parser:
    def __init__(
        self, text: str, name: str, funcs: set[str], items: list[Item] | None = None
    ) -> None:
        self.text = text
        self.name = name
        self.funcs = funcs
        self.items = items if items is not None else Lexer(text).tokens()
        self.i = 0  # index of the next item to read
        self._seen = 0  # furthest index read so far
        self.last: Item = self.items[0]  # most recently lexed item (Go's token[0], for lines)
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.action_line = 0
        self.trees: dict[str, n.ListNode] = {}

    # -- token stream ---------------------------------------------------------------------
    def next(self) -> Item:
        item = self.items[min(self.i, len(self.items) - 1)]
        self.i += 1
        if self.i > self._seen:
            self._seen = self.i
            self.last = item
        return item

    def backup(self, count: int = 1) -> None:
        self.i -= count

    def peek(self) -> Item:
        item = self.next()
        self.backup()
        return item

    def next_non_space(self) -> Item:
        while True:
            item = self.next()
            if item.typ != T.SPACE:
                return item

    def peek_non_space(self) -> Item:
        item = self.next_non_space()
        self.backup()
        return item

    # -- errors ----------------------------------------------------------------------------
    def errorf(self, msg: str) -> None:
        raise _Parse(
            f"template: {self.name}:{self.last.line}: {msg}", self.last.line, self.last.pos
        )

    def unexpected(self, item: Item, context: str) -> None:
        if item.typ == T.ERROR:
            extra = ""
            if self.action_line and self.action_line != item.line:
                extra = f" in action started at {self.name}:{self.action_line}"
                if item.val.endswith(" action"):
                    extra = extra[len(" in action") :]
            self.errorf(f"{item}{extra}")
        self.errorf(f"unexpected {item} in {context}")

    def expect(self, typ: T, context: str) -> Item:
        item = self.next_non_space()
        if item.typ != typ:
            self.unexpected(item, context)
        return item

    # -- top level -------------------------------------------------------------------------
    def parse(self) -> dict[str, n.ListNode]:
        root = n.ListNode(self.peek().pos)
        while self.peek().typ != T.EOF:
            if self.peek().typ == T.LEFT_DELIM:
                self.next()
                if self.next_non_space().typ == T.DEFINE:
                    self.parse_definition()
                    continue
                self.i = self._rewind_to_delim()
            node = self.text_or_action()
            if isinstance(node, (n.EndNode, n.ElseNode)):
                self.errorf(f"unexpected {node}")
            root.nodes.append(node)
        self._add(self.name, root)
        return self.trees

    def _rewind_to_delim(self) -> int:
        # Go's backup2(delim): return to the left delimiter just consumed.
        j = self.i - 1
        while self.items[j].typ != T.LEFT_DELIM:
            j -= 1
        return j

    def _add(self, name: str, root: n.ListNode) -> None:
        old = self.trees.get(name)
        if old is not None and not _is_empty(old) and not _is_empty(root):
            self.errorf(f"template: multiple definition of template {_q(name)}")
        if old is None or not _is_empty(root):
            self.trees[name] = root

    def parse_definition(self) -> None:
        context = "define clause"
        item = self.next_non_space()
        if item.typ not in (T.STRING, T.RAW_STRING):
            self.unexpected(item, context)
        name = self.unquote(item.val)
        self.expect(T.RIGHT_DELIM, context)
        saved_vars, self.vars = self.vars, ["$"]
        body, end = self.item_list()
        self.vars = saved_vars
        if not isinstance(end, n.EndNode):
            self.errorf(f"unexpected {end} in {context}")
        self._add(name, body)

    def item_list(self) -> tuple[n.ListNode, n.Node]:
        lst = n.ListNode(self.peek_non_space().pos)
        while self.peek_non_space().typ != T.EOF:
            node = self.text_or_action()
            if isinstance(node, (n.EndNode, n.ElseNode)):
                return lst, node
            lst.nodes.append(node)
        self.errorf("unexpected EOF")
        raise AssertionError("unreachable")

    def text_or_action(self) -> n.Node:
        item = self.next_non_space()
        if item.typ == T.TEXT:
            return n.TextNode(item.pos, item.val)
        if item.typ == T.LEFT_DELIM:
            self.action_line = item.line
            try:
                return self.action()
            finally:
                self.action_line = 0
        self.unexpected(item, "input")
        raise AssertionError("unreachable")

    def action(self) -> n.Node:
        item = self.next_non_space()
        typ = item.typ
        if typ == T.BLOCK:
            return self.block_control()
        if typ in (T.BREAK, T.CONTINUE):
            word = "break" if typ == T.BREAK else "continue"
            tok = self.next_non_space()
            if tok.typ != T.RIGHT_DELIM:
                self.unexpected(tok, "{{" + word + "}}")
            if self.range_depth == 0:
                self.errorf("{{" + word + "}} outside {{range}}")
            cls = n.BreakNode if typ == T.BREAK else n.ContinueNode
            return cls(item.pos, item.line)
        if typ == T.ELSE:
            peek = self.peek_non_space()
            if peek.typ in (T.IF, T.WITH):
                return n.ElseNode(peek.pos, peek.line)
            tok = self.expect(T.RIGHT_DELIM, "else")
            return n.ElseNode(tok.pos, tok.line)
        if typ == T.END:
            return n.EndNode(self.expect(T.RIGHT_DELIM, "end").pos)
        if typ == T.IF:
            return n.IfNode(*self.parse_control("if"))
        if typ == T.RANGE:
            return n.RangeNode(*self.parse_control("range"))
        if typ == T.WITH:
            return n.WithNode(*self.parse_control("with"))
        if typ == T.TEMPLATE:
            return self.template_control()
        self.backup()
        tok = self.peek()
        return n.ActionNode(tok.pos, tok.line, self.pipeline("command", T.RIGHT_DELIM))

    def parse_control(
        self, context: str
    ) -> tuple[int, int, n.PipeNode, n.ListNode, n.ListNode | None]:
        mark = len(self.vars)
        try:
            pipe = self.pipeline(context, T.RIGHT_DELIM)
            if context == "range":
                self.range_depth += 1
            body, nxt = self.item_list()
            if context == "range":
                self.range_depth -= 1
            else_list: n.ListNode | None = None
            if isinstance(nxt, n.ElseNode):
                # {{else if}} / {{else with}} nest a new branch that consumes the shared {{end}}.
                if context == "if" and self.peek().typ == T.IF:
                    self.next()
                    else_list = n.ListNode(nxt.pos, [n.IfNode(*self.parse_control("if"))])
                elif context == "with" and self.peek().typ == T.WITH:
                    self.next()
                    else_list = n.ListNode(nxt.pos, [n.WithNode(*self.parse_control("with"))])
                else:
                    else_list, nxt = self.item_list()
                    if not isinstance(nxt, n.EndNode):
                        self.errorf(f"expected end; found {nxt}")
            return pipe.pos, pipe.line, pipe, body, else_list
        finally:
            del self.vars[mark:]

    def template_control(self) -> n.Node:
        context = "template clause"
        item = self.next_non_space()
        name = self.template_name(item, context)
        pipe = None
        if self.next_non_space().typ != T.RIGHT_DELIM:
            self.backup()
            pipe = self.pipeline(context, T.RIGHT_DELIM)
        return n.TemplateNode(item.pos, item.line, name, pipe)

    def block_control(self) -> n.Node:
        context = "block clause"
        item = self.next_non_space()
        name = self.template_name(item, context)
        pipe = self.pipeline(context, T.RIGHT_DELIM)
        saved_vars, saved_depth = self.vars, self.range_depth
        self.vars, self.range_depth = ["$"], 0
        body, end = self.item_list()
        self.vars, self.range_depth = saved_vars, saved_depth
        if not isinstance(end, n.EndNode):
            self.errorf(f"unexpected {end} in {context}")
        self._add(name, body)
        return n.TemplateNode(item.pos, item.line, name, pipe)

    def template_name(self, item: Item, context: str) -> str:
        if item.typ in (T.STRING, T.RAW_STRING):
            return self.unquote(item.val)
        self.unexpected(item, context)
        raise AssertionError("unreachable")

    # -- pipelines -------------------------------------------------------------------------
    def pipeline(self, context: str, end: T) -> n.PipeNode:
        tok = self.peek_non_space()
        pipe = n.PipeNode(tok.pos, tok.line)
        while True:  # declarations ("goto decls" in Go)
            v = self.peek_non_space()
            if v.typ != T.VARIABLE:
                break
            self.next_non_space()
            after = self.peek()
            nxt = self.peek_non_space()
            if nxt.typ in (T.ASSIGN, T.DECLARE):
                pipe.is_assign = nxt.typ == T.ASSIGN
                self.next_non_space()
                pipe.decl.append(n.VariableNode(v.pos, [v.val]))
                self.vars.append(v.val)
            elif nxt.typ == T.CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(n.VariableNode(v.pos, [v.val]))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (T.VARIABLE, T.RIGHT_DELIM, T.RIGHT_PAREN):
                        continue
                    self.errorf("range can only initialize variables")
                self.errorf(f"too many declarations in {context}")
            elif after.typ == T.SPACE:
                self._back_to(v)
            else:
                self._back_to(v)
            break
        while True:
            tok = self.next_non_space()
            if tok.typ == end:
                self.check_pipeline(pipe, context)
                return pipe
            if tok.typ in (
                T.BOOL,
                T.CHAR_CONSTANT,
                T.COMPLEX,
                T.DOT,
                T.FIELD,
                T.IDENTIFIER,
                T.NUMBER,
                T.NIL,
                T.RAW_STRING,
                T.STRING,
                T.VARIABLE,
                T.LEFT_PAREN,
            ):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                self.unexpected(tok, context)

    def _back_to(self, item: Item) -> None:
        while self.items[self.i - 1] is not item:
            self.i -= 1
        self.i -= 1

    def check_pipeline(self, pipe: n.PipeNode, context: str) -> None:
        if not pipe.cmds:
            self.errorf(f"missing value for {context}")
        for i, cmd in enumerate(pipe.cmds[1:]):
            if isinstance(
                cmd.args[0], (n.BoolNode, n.DotNode, n.NilNode, n.NumberNode, n.StringNode)
            ):
                self.errorf(f"non executable command in pipeline stage {i + 2}")

    def command(self) -> n.CommandNode:
        cmd = n.CommandNode(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.typ == T.SPACE:
                continue
            if tok.typ in (T.RIGHT_DELIM, T.RIGHT_PAREN):
                self.backup()
            elif tok.typ != T.PIPE:
                self.unexpected(tok, "operand")
            break
        if not cmd.args:
            self.errorf("empty command")
        return cmd

    def operand(self) -> n.Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == T.FIELD:
            chain = n.ChainNode(self.peek().pos, node, [])
            while self.peek().typ == T.FIELD:
                chain.fields.append(self.next().val[1:])
            if isinstance(node, n.FieldNode):
                return n.FieldNode(chain.pos, node.ident + chain.fields)
            if isinstance(node, n.VariableNode):
                return n.VariableNode(chain.pos, node.ident + chain.fields)
            if isinstance(node, (n.BoolNode, n.StringNode, n.NumberNode, n.NilNode, n.DotNode)):
                self.errorf(f"unexpected . after term {_q(str(node))}")
            return chain
        return node

    def term(self) -> n.Node | None:
        tok = self.next_non_space()
        typ = tok.typ
        if typ == T.IDENTIFIER:
            if tok.val not in self.funcs:
                self.errorf(f"function {_q(tok.val)} not defined")
            return n.IdentifierNode(tok.pos, tok.val)
        if typ == T.DOT:
            return n.DotNode(tok.pos)
        if typ == T.NIL:
            return n.NilNode(tok.pos)
        if typ == T.VARIABLE:
            name = tok.val.split(".")[0]
            if name not in self.vars:
                self.errorf(f"undefined variable {_q(name)}")
            return n.VariableNode(tok.pos, tok.val.split("."))
        if typ == T.FIELD:
            return n.FieldNode(tok.pos, [tok.val[1:]])
        if typ == T.BOOL:
            return n.BoolNode(tok.pos, tok.val == "true")
        if typ in (T.CHAR_CONSTANT, T.NUMBER, T.COMPLEX):
            return self.number(tok)
        if typ == T.LEFT_PAREN:
            return self.pipeline("parenthesized pipeline", T.RIGHT_PAREN)
        if typ in (T.STRING, T.RAW_STRING):
            return n.StringNode(tok.pos, tok.val, self.unquote(tok.val))
        self.backup()
        return None

    def number(self, tok: Item) -> n.NumberNode:
        text = tok.val
        node = n.NumberNode(tok.pos, text)
        if tok.typ == T.COMPLEX:
            self.errorf(f"complex constant {text} is not supported")
        if tok.typ == T.CHAR_CONSTANT:
            value = go_unquote(text)
            if value is None or len(value) != 1:
                self.errorf(f"malformed character constant: {text}")
                raise AssertionError("unreachable")
            node.is_int = node.is_float = True
            node.int_value = ord(value)
            node.float_value = float(node.int_value)
            return node
        try:
            parsed = parse_go_number(text)
        except ValueError as err:
            self.errorf(str(err))
            raise
        node.is_int, node.int_value, node.is_float, node.float_value = parsed
        return node

    def unquote(self, quoted: str) -> str:
        value = go_unquote(quoted)
        if value is None:
            self.errorf("invalid syntax")
        assert value is not None
        return value


def _q(s: str) -> str:
    from .literals import go_quote

    return go_quote(s)


def _is_empty(node: n.Node | None) -> bool:
    if node is None:
        return True
    if isinstance(node, n.TextNode):
        return node.text.strip(" \t\r\n") == ""
    if isinstance(node, n.ListNode):
        return all(_is_empty(c) for c in node.nodes)
    return False


def parse_trees(text: str, name: str, funcs: set[str]) -> dict[str, n.ListNode]:
    """Parse ``text``; returns {template name: root list}. Raises GoTemplateError."""
    parser = Parser(text, name, funcs)
    try:
        return parser.parse()
    except _Parse as err:
        col = _column(text, err.pos)
        # The message stays Go's own text (conformance compares it); the hint adds the column.
        raise GoTemplateError(
            err.msg,
            hint=f"Line {err.line}, column {col}: {_HINT[0].lower()}{_HINT[1:]}",
            line=err.line,
            col=col,
            template=name,
        ) from None
    except RecursionError:
        raise GoTemplateError(
            f"template: {name}: template nesting too deep", hint=_HINT, template=name
        ) from None


def _column(text: str, pos: int) -> int:
    """1-based column (in characters) of offset ``pos``."""
    start = text.rfind("\n", 0, pos) + 1
    return pos - start + 1
