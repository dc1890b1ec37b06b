"""Executor for parsed Go templates, following text/template/exec.go step by step.

Values travel as ``(value, iface)`` pairs where Go would hold a reflect.Value whose static
type is an interface (a map[string]any element, a []any element, a struct field of type
any). That distinction decides error texts ("in type interface {}") and whether a missing
value is a nil interface (an error on field access) or invalid (prints <no value>).
"""

from __future__ import annotations

from typing import Any

from ollama_forge.errors import GoTemplateError

from . import nodes as n
from .funcs import BUILTINS, Func, FuncError
from .gofmt import _Spec, format_value
from .values import GoMap, GoUint8, Struct, is_true, type_name

V = tuple[Any, bool]
INVALID: V = (None, False)
MISSING = object()  # Go's missingVal: no final pipeline value
NO_VALUE = object()  # a zero reflect.Value passed to a builtin
# Go allows 100000 nested {{template}} calls; Python's stack allows far fewer.
MAX_DEPTH = 100


class _Break(Exception):
    """{{break}}: unwinds to the innermost range (Go panics with walkBreak)."""


class _Continue(Exception):
    """{{continue}}: ends the current range iteration."""


class ExecError(Exception):
    def __init__(self, message: str, node: n.Node | None) -> None:
        super().__init__(message)
        self.node = node


class State:
    def __init__(
        self,
        trees: dict[str, n.ListNode],
        name: str,
        text: str,
        funcs: dict[str, Func],
        missingkey_zero: bool = True,
    ) -> None:
        self.trees = trees
        self.name = name  # name of the executing template
        self.parse_name = name  # name the text was parsed under (error locations)
        self.text = text
        self.funcs = funcs
        self.missingkey_zero = missingkey_zero
        self.out: list[str] = []
        self.vars: list[tuple[str, Any, bool]] = []
        self.node: n.Node | None = None
        self.depth = 0

    # -- errors ----------------------------------------------------------------------------
    def at(self, node: n.Node | None) -> None:
        self.node = node

    def errorf(self, msg: str) -> None:
        raise ExecError(msg, self.node)

    def format_error(self, err: ExecError) -> GoTemplateError:
        node = err.node
        if node is None:
            return GoTemplateError(f"template: {self.name}: {err}", hint=_HINT, template=self.name)
        before = self.text[: node.pos]
        nl = before.rfind("\n")
        line = before.count("\n") + 1
        col_bytes = (
            len(before[nl + 1 :].encode("utf-8", "surrogateescape"))
            if nl >= 0
            else len(before.encode("utf-8", "surrogateescape"))
        )
        context = str(node)
        msg = (
            f"template: {self.parse_name}:{line}:{col_bytes}: executing {_quote(self.name)} "
            f"at <{context}>: {err}"
        )
        return GoTemplateError(msg, hint=_HINT, line=line, col=col_bytes + 1, template=self.name)

    # -- variables ---------------------------------------------------------------------------
    def push(self, name: str, value: Any, iface: bool = False) -> None:
        self.vars.append((name, value, iface))

    def set_var(self, name: str, value: Any, iface: bool = False) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value, iface)
                return
        self.errorf(f"undefined variable: {name}")

    def set_top_var(self, k: int, value: Any, iface: bool) -> None:
        name = self.vars[-k][0]
        self.vars[-k] = (name, value, iface)

    def var_value(self, name: str) -> V:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                return self.vars[i][1], self.vars[i][2]
        self.errorf(f"undefined variable: {name}")
        raise AssertionError("unreachable")

    # -- walking ------------------------------------------------------------------------------
    def walk(self, dot: V, node: n.Node) -> None:
        self.at(node)
        if isinstance(node, n.ActionNode):
            assert node.pipe is not None
            val = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.print_value(node, val)
        elif isinstance(node, n.TextNode):
            self.out.append(node.text)
        elif isinstance(node, n.ListNode):
            for child in node.nodes:
                self.walk(dot, child)
        elif isinstance(node, (n.IfNode, n.WithNode)):
            mark = len(self.vars)
            try:
                assert node.pipe is not None and node.list is not None
                val = self.eval_pipeline(dot, node.pipe)
                if is_true(val):
                    self.walk((val, False) if isinstance(node, n.WithNode) else dot, node.list)
                elif node.else_list is not None:
                    self.walk(dot, node.else_list)
            finally:
                del self.vars[mark:]
        elif isinstance(node, n.RangeNode):
            self.walk_range(dot, node)
        elif isinstance(node, n.TemplateNode):
            self.walk_template(dot, node)
        elif isinstance(node, n.BreakNode):
            raise _Break()
        elif isinstance(node, n.ContinueNode):
            raise _Continue()
        else:
            self.errorf(f"unknown node: {node}")

    def walk_range(self, dot: V, r: n.RangeNode) -> None:
        self.at(r)
        assert r.pipe is not None and r.list is not None
        mark0 = len(self.vars)
        try:
            val = self.eval_pipeline(dot, r.pipe)
            mark = len(self.vars)
            decl = r.pipe.decl

            def one(index: Any, elem: Any, iface: bool) -> None:
                if decl:
                    if r.pipe.is_assign:  # type: ignore[union-attr]
                        if len(decl) > 1:
                            self.set_var(decl[0].ident[0], index)
                        else:
                            self.set_var(decl[0].ident[0], elem, iface)
                    else:
                        self.set_top_var(1, elem, iface)
                if len(decl) > 1:
                    if r.pipe.is_assign:  # type: ignore[union-attr]
                        self.set_var(decl[1].ident[0], elem, iface)
                    else:
                        self.set_top_var(2, index, False)
                try:
                    self.walk((elem, iface), r.list)  # type: ignore[arg-type]
                except _Continue:
                    pass
                finally:
                    del self.vars[mark:]

            ran = False
            try:
                if isinstance(val, GoMap) and getattr(val, "opaque", False):
                    self.errorf(f"range can't iterate over {_fmt(val)}")
                if isinstance(val, (list, bytes)):
                    elem_iface = getattr(val, "elem_iface", not isinstance(val, bytes))
                    elems = [GoUint8(b) for b in val] if isinstance(val, bytes) else list(val)
                    for i, elem in enumerate(elems):
                        ran = True
                        one(i, elem, elem_iface)
                elif isinstance(val, dict):
                    elem_iface = getattr(val, "elem_iface", True)
                    for key in sorted(val):
                        ran = True
                        one(key, val[key], elem_iface)
                elif isinstance(val, int) and not isinstance(val, bool):
                    if len(decl) > 1:
                        self.errorf(f"can't use {val} to iterate over more than one variable")
                    for i in range(val):
                        ran = True
                        one(i, i, False)
                elif val is not None:
                    self.errorf(f"range can't iterate over {_fmt(val)}")
            except _Break:
                return
            if not ran and r.else_list is not None:
                self.walk(dot, r.else_list)
        finally:
            del self.vars[mark0:]

    def walk_template(self, dot: V, t: n.TemplateNode) -> None:
        self.at(t)
        tree = self.trees.get(t.name)
        if tree is None:
            self.errorf(f"template {_quote(t.name)} not defined")
            return
        if self.depth >= MAX_DEPTH:
            self.errorf(f"exceeded maximum template depth ({MAX_DEPTH})")
        new_dot = self.eval_pipeline(dot, t.pipe) if t.pipe is not None else None
        saved = (self.vars, self.name)
        self.vars, self.name = [("$", new_dot, False)], t.name
        self.depth += 1
        try:
            self.walk((new_dot, False), tree)
        finally:
            self.depth -= 1
            self.vars, self.name = saved

    def print_value(self, node: n.Node, val: Any) -> None:
        self.at(node)
        if val is None:
            self.out.append("<no value>")
            return
        if isinstance(val, Struct) and val.pointer:
            val = Struct(val.stype, val.values, pointer=False)  # printableValue dereferences
        self.out.append(format_value(val, _Spec(), 0))

    # -- evaluation ------------------------------------------------------------------------
    def eval_pipeline(self, dot: V, pipe: n.PipeNode) -> Any:
        self.at(pipe)
        value: Any = MISSING
        for cmd in pipe.cmds:
            value, _ = self.eval_command(dot, cmd, value)  # interface dropped ("lovely!")
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.ident[0], value)
            else:
                self.push(var.ident[0], value)
        return value

    def eval_command(self, dot: V, cmd: n.CommandNode, final: Any) -> V:
        first = cmd.args[0]
        if isinstance(first, n.FieldNode):
            return self.eval_field_node(dot, first, cmd.args, final)
        if isinstance(first, n.ChainNode):
            return self.eval_chain_node(dot, first, cmd.args, final)
        if isinstance(first, n.IdentifierNode):
            return self.eval_function(dot, first, cmd, cmd.args, final), False
        if isinstance(first, n.PipeNode):
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first), False
        if isinstance(first, n.VariableNode):
            return self.eval_variable_node(dot, first, cmd.args, final)
        self.at(first)
        self.not_a_function(cmd.args, final)
        if isinstance(first, n.BoolNode):
            return first.value, False
        if isinstance(first, n.DotNode):
            return dot
        if isinstance(first, n.NilNode):
            self.errorf("nil is not a command")
        if isinstance(first, n.NumberNode):
            return self.ideal_constant(first), False
        if isinstance(first, n.StringNode):
            return first.text, False
        self.errorf(f"can't evaluate command {_quote(str(first))}")
        raise AssertionError("unreachable")

    def not_a_function(self, args: list[n.Node] | None, final: Any) -> None:
        if args is not None and (len(args) > 1 or final is not MISSING):
            self.errorf(f"can't give argument to non-function {args[0]}")

    def ideal_constant(self, c: n.NumberNode) -> Any:
        self.at(c)
        t = c.text
        hex_int = len(t) > 2 and t[0] == "0" and t[1] in "xX" and not any(ch in t for ch in "pP")
        if c.is_float and not hex_int and t[0] != "'" and any(ch in t for ch in ".eEpP"):
            return c.float_value
        if c.is_int:
            return c.int_value
        if c.is_float:
            self.errorf(f"{t} overflows int")
        return None

    def eval_field_node(
        self, dot: V, field: n.FieldNode, args: list[n.Node] | None, final: Any
    ) -> V:
        self.at(field)
        return self.eval_field_chain(dot, dot, field, field.ident, args, final)

    def eval_chain_node(
        self, dot: V, chain: n.ChainNode, args: list[n.Node] | None, final: Any
    ) -> V:
        self.at(chain)
        if isinstance(chain.node, n.NilNode):
            self.errorf(f"indirection through explicit nil in {chain}")
        assert chain.node is not None
        receiver = self.eval_arg(dot, None, chain.node)
        return self.eval_field_chain(dot, (receiver, False), chain, chain.fields, args, final)

    def eval_variable_node(
        self, dot: V, var: n.VariableNode, args: list[n.Node] | None, final: Any
    ) -> V:
        self.at(var)
        value = self.var_value(var.ident[0])
        if len(var.ident) == 1:
            self.not_a_function(args, final)
            return value
        return self.eval_field_chain(dot, value, var, var.ident[1:], args, final)

    def eval_field_chain(
        self,
        dot: V,
        receiver: V,
        node: n.Node,
        ident: list[str],
        args: list[n.Node] | None,
        final: Any,
    ) -> V:
        for name in ident[:-1]:
            receiver = self.eval_field(name, None, MISSING, receiver)
        return self.eval_field(ident[-1], args, final, receiver)

    def eval_field(self, name: str, args: list[n.Node] | None, final: Any, receiver: V) -> V:
        value, iface = receiver
        if value is None and not iface:
            return INVALID  # missingkey option never errors on an invalid receiver here
        static = "interface {}" if iface else type_name(value)
        if value is None:
            self.errorf(f"nil pointer evaluating {static}.{name}")
        method = _method(value, name)
        if method is not None:
            num_in = (len(args) - 1 if args else 0) + (0 if final is MISSING else 1)
            if num_in:
                self.errorf(f"wrong number of args for {name}: want 0 got {num_in}")
            return method(), False
        has_args = (args is not None and len(args) > 1) or final is not MISSING
        if isinstance(value, Struct):
            spec = value.stype.field(name)
            if spec is not None:
                if has_args:
                    self.errorf(f"{name} has arguments but cannot be invoked as function")
                return value.values.get(name), spec.iface
        elif isinstance(value, dict) and not getattr(value, "opaque", False):
            if has_args:
                self.errorf(f"{name} is not a method but has arguments")
            if name in value:
                return value[name], getattr(value, "elem_iface", True)
            if not self.missingkey_zero:
                return INVALID
            zero = getattr(value, "zero", None)
            if zero is not None:
                return zero(), False
            return None, getattr(value, "elem_iface", True)
        self.errorf(f"can't evaluate field {name} in type {static}")
        raise AssertionError("unreachable")

    def eval_function(
        self, dot: V, node: n.IdentifierNode, cmd: n.Node, args: list[n.Node] | None, final: Any
    ) -> Any:
        self.at(node)
        func = self.funcs.get(node.name)
        if func is None:
            self.errorf(f"{_quote(node.name)} is not a defined function")
            raise AssertionError("unreachable")
        return self.eval_call(dot, func, cmd, node.name, args, final)

    def eval_call(
        self, dot: V, func: Func, node: n.Node, name: str, args: list[n.Node] | None, final: Any
    ) -> Any:
        call_args = list(args[1:]) if args is not None else []
        num_in = len(call_args) + (0 if final is MISSING else 1)
        num_fixed = len(func.fixed)
        if func.variadic is not None:
            if num_in < num_fixed:
                self.errorf(
                    f"wrong number of args for {name}: want at least {num_fixed} got {len(call_args)}"
                )
        elif num_in != num_fixed:
            self.errorf(f"wrong number of args for {name}: want {num_fixed} got {num_in}")

        def param(i: int) -> str:
            return func.fixed[i] if i < num_fixed else func.variadic or "any"

        if func is BUILTINS["and"] or func is BUILTINS["or"]:
            want = name == "or"
            v: Any = None
            for arg in call_args:
                v = self.eval_arg(dot, "value", arg)
                if v is NO_VALUE:
                    v = None
                if is_true(v) == want:
                    return v
            if final is not MISSING:
                v = self.validate((final, False), "value")
            return None if v is NO_VALUE else v
        argv = [self.eval_arg(dot, param(i), a) for i, a in enumerate(call_args)]
        if final is not MISSING:
            argv.append(self.validate((final, False), param(num_in - 1)))
        try:
            if func is BUILTINS["len"] and argv[0] is NO_VALUE:
                # length() asks a zero reflect.Value for its type; Go reports the panic.
                raise FuncError("reflect: call of reflect.Value.Type on zero Value")
            return func.fn(*[None if a is NO_VALUE else a for a in argv])
        except FuncError as err:
            self.at(node)
            self.errorf(f"error calling {name}: {err}")
        except (RecursionError, MemoryError):
            raise
        except Exception as err:  # a Go function panicking is reported the same way
            self.at(node)
            self.errorf(f"error calling {name}: {err}")
        raise AssertionError("unreachable")

    def validate(self, v: V, typ: str | None) -> Any:
        value, iface = v
        if value is None and not iface:
            if typ == "value":
                return NO_VALUE  # a zero reflect.Value: builtins see "no value"
            if typ == "string":
                self.errorf("invalid value; expected string")
            return None
        if typ == "string" and not isinstance(value, str):
            got = "interface {}" if value is None else type_name(value)
            self.errorf(f"wrong type for value; expected string; got {got}")
        return value

    def eval_arg(self, dot: V, typ: str | None, node: n.Node) -> Any:
        self.at(node)
        if isinstance(node, n.DotNode):
            return self.validate(dot, typ)
        if isinstance(node, n.NilNode):
            if typ == "value":
                return NO_VALUE
            if typ in (None, "any"):
                return None
            self.errorf(f"cannot assign nil to {typ}")
        if isinstance(node, n.FieldNode):
            return self.validate(self.eval_field_node(dot, node, [node], MISSING), typ)
        if isinstance(node, n.VariableNode):
            return self.validate(self.eval_variable_node(dot, node, None, MISSING), typ)
        if isinstance(node, n.PipeNode):
            return self.validate((self.eval_pipeline(dot, node), False), typ)
        if isinstance(node, n.IdentifierNode):
            return self.validate((self.eval_function(dot, node, node, None, MISSING), False), typ)
        if isinstance(node, n.ChainNode):
            return self.validate(self.eval_chain_node(dot, node, None, MISSING), typ)
        if typ == "string":
            if isinstance(node, n.StringNode):
                return node.text
            self.errorf(f"expected string; found {node}")
        if isinstance(node, n.BoolNode):
            return node.value
        if isinstance(node, n.NumberNode):
            return self.ideal_constant(node)
        if isinstance(node, n.StringNode):
            return node.text
        self.errorf(f"can't handle assignment of {node} to empty interface argument")
        raise AssertionError("unreachable")


def _method(value: Any, name: str) -> Any:
    """Methods reachable on Ollama's types: String() on Stringers, ToolProperty's
    ToTypeScriptType(). Go looks methods up before fields and map keys."""
    if name == "String":
        stringer = (
            value.stype.stringer if isinstance(value, Struct) else getattr(value, "stringer", None)
        )
        if stringer is not None:
            return lambda: stringer(value)
    if (
        name == "ToTypeScriptType"
        and isinstance(value, Struct)
        and value.stype.name == "api.ToolProperty"
    ):
        from .funcs import to_typescript_type

        return lambda: to_typescript_type(value)
    return None


_HINT = "Check the template against the data it is executed with (field names, types, functions)."


def _quote(s: str) -> str:
    from .literals import go_quote

    return go_quote(s)


def _fmt(v: Any) -> str:
    return format_value(v, _Spec(), 0)
