"""Go's fmt package as text/template uses it: Sprint, Sprintln, Sprintf and %v printing.

Only the behaviour reachable from template data is implemented: bool, int, float64, string,
[]byte, slices, maps (sorted keys), structs, nil, Stringers. Pointers nested inside other
values print as an address in Go (non-deterministic); here they print as 0xc000010000.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

from .goprint import is_print
from .literals import go_quote
from .values import GoBytes, GoMap, GoSlice, Struct, type_name

_FAKE_ADDR = "0xc000010000"


def format_float(f: float, verb: str = "g", prec: int = -1, sharp: bool = False) -> str:
    """strconv.FormatFloat(f, verb, prec, 64) for verbs e E f F g G (prec -1 = shortest)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if verb in "fF":
        if prec < 0:
            return _shortest_fixed(f)
        return f"{f:.{prec}f}"
    if verb in "eE":
        if prec < 0:
            digits, exp = _shortest_digits(f)
            out = _exp_form(f, digits, exp)
        else:
            out = f"{f:.{prec}e}"
        return out.upper() if verb == "E" else out
    # g / G
    if prec < 0:
        if f == 0:
            return "-0" if math.copysign(1, f) < 0 else "0"
        digits, exp = _shortest_digits(f)
        # fmt's %v uses the shortest digits and switches to %e at exponent 6 or below -4.
        out = _exp_form(f, digits, exp) if exp < -4 or exp >= 6 else _shortest_fixed(f)
        return out.upper() if verb == "G" else out
    out = f"{f:#.{prec}g}" if sharp else f"{f:.{prec}g}"
    return out.upper() if verb == "G" else out


def _shortest_digits(f: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of |f| and its decimal exponent (d.ddd x 10^exp)."""
    d = Decimal(repr(abs(f)))
    _sign, digits, exponent = d.as_tuple()
    s = "".join(str(x) for x in digits).rstrip("0") or "0"
    exp = len(digits) + int(exponent) - 1
    return s, exp


def _exp_form(f: float, digits: str, exp: int) -> str:
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sign = "-" if math.copysign(1, f) < 0 else ""
    esign = "-" if exp < 0 else "+"
    return f"{sign}{mant}e{esign}{abs(exp):02d}"


def _shortest_fixed(f: float) -> str:
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    digits, exp = _shortest_digits(f)
    sign = "-" if f < 0 else ""
    if exp < 0:
        return sign + "0." + "0" * (-exp - 1) + digits
    if len(digits) <= exp + 1:
        return sign + digits + "0" * (exp + 1 - len(digits))
    return sign + digits[: exp + 1] + "." + digits[exp + 1 :]


def _float_bits(v: float, verb: str, prec: int | None) -> str:
    """%b (mantissa p exponent) and %x/%X (hex mantissa, 2-digit exponent) of a float64."""
    if math.isnan(v) or math.isinf(v):
        return format_float(v)
    if verb == "b":
        if v == 0:
            return ("-" if math.copysign(1, v) < 0 else "") + "0p-1074"
        m, e = math.frexp(abs(v))
        mant, exp = int(m * (1 << 53)), e - 53
        if exp < -1074:  # subnormal: Go keeps the exponent at -1074
            mant, exp = mant >> (-1074 - exp), -1074
        return ("-" if v < 0 else "") + f"{mant}p{exp:+d}"
    h = float.hex(v) if prec is None else _hex_prec(v, prec)
    sign = "-" if h.startswith("-") else ""
    hmant, _, hexp = h.lstrip("-").partition("p")
    if prec is None and "." in hmant:
        hmant = hmant.rstrip("0").rstrip(".")
    e = int(hexp)
    out = f"{sign}{hmant}p{'-' if e < 0 else '+'}{abs(e):02d}"
    return out.upper() if verb == "X" else out


def _hex_prec(v: float, prec: int) -> str:
    sign = "-" if math.copysign(1, v) < 0 else ""
    if v == 0:
        return sign + "0x0" + ("." + "0" * prec if prec else "") + "p+0"
    m, e = math.frexp(abs(v))  # m in [0.5, 1): rescale to 1.xxx
    m, e = m * 2, e - 1
    scaled = round(m * (16**prec))
    if scaled >= 2 * 16**prec:
        scaled //= 2
        e += 1
    whole, frac = divmod(scaled, 16**prec)
    digits = f"{frac:0{prec}x}" if prec else ""
    return f"{sign}0x{whole}" + ("." + digits if prec else "") + f"p{e:+d}"


class _Spec:
    __slots__ = ("minus", "plus", "plus_v", "prec", "sharp", "space", "verb", "width", "zero")

    def __init__(self) -> None:
        self.minus = self.plus = self.plus_v = self.sharp = self.space = self.zero = False
        self.width: int | None = None
        self.prec: int | None = None
        self.verb = "v"


def _pad(s: str, spec: _Spec, numeric: bool = False) -> str:
    if spec.width is None or len(s) >= spec.width:
        return s
    fill = spec.width - len(s)
    if spec.minus:
        return s + " " * fill
    if spec.zero and numeric:
        sign = s[0] if s[:1] in "+- " and s[:1] != "" else ""
        return sign + "0" * fill + s[len(sign) :]
    if spec.zero and not numeric:
        return "0" * fill + s
    return " " * fill + s


def _bad_verb(spec: _Spec, arg: Any) -> str:
    if arg is None:
        return f"%!{spec.verb}(<nil>)"
    # Go prints the value with %v but keeps the flags, width and precision.
    inner = _Spec()
    for name in _Spec.__slots__:
        setattr(inner, name, getattr(spec, name))
    inner.verb = "v"
    return f"%!{spec.verb}({type_name(arg)}={format_value(arg, inner, 0)})"


def _fmt_int(v: int, spec: _Spec) -> str:
    verb = spec.verb
    if verb == "c":
        return _pad(chr(v) if 0 <= v <= 0x10FFFF else "\ufffd", spec)
    if verb == "q":
        return _pad(
            "'" + (go_quote(chr(v))[1:-1].replace("'", "\\'").replace('\\"', '"')) + "'", spec
        )
    if verb == "U":
        s = f"U+{v:04X}"
        if spec.sharp and 0 <= v <= 0x10FFFF and is_print(chr(v)):
            s += f" '{chr(v)}'"
        return _pad(s, spec)
    base = {"d": 10, "v": 10, "b": 2, "o": 8, "O": 8, "x": 16, "X": 16}.get(verb)
    if base is None:
        return _bad_verb(spec, v)
    digits = format(abs(v), {2: "b", 8: "o", 10: "d", 16: "x"}[base])
    if verb == "X":
        digits = digits.upper()
    if spec.prec is not None:
        digits = digits.rjust(spec.prec, "0") if not (spec.prec == 0 and v == 0) else ""
    prefix = ""
    if verb == "O" or (spec.sharp and verb == "o" and not digits.startswith("0")):
        prefix = "0o" if verb == "O" else "0"
    elif spec.sharp and verb in "xX":
        prefix = "0" + verb
    elif spec.sharp and verb == "b":
        prefix = "0b"
    sign = "-" if v < 0 else "+" if spec.plus else " " if spec.space else ""
    body = prefix + digits
    if spec.zero and spec.width and not spec.minus and spec.prec is None:
        body = (
            body.rjust(spec.width - len(sign), "0")
            if not prefix
            else prefix + digits.rjust(spec.width - len(sign) - len(prefix), "0")
        )
    return _pad(sign + body, _no_zero(spec))  # zero padding was applied above (or ignored)


def _fmt_float(v: float, spec: _Spec) -> str:
    verb = spec.verb
    if verb == "v":
        verb = "g"
    if verb not in "eEfFgGxXb":
        return _bad_verb(spec, v)
    if verb in "xXb":
        return _pad(_float_bits(v, verb, spec.prec), spec, numeric=True)
    prec = spec.prec if spec.prec is not None else (-1 if verb in "gG" else 6)
    s = format_float(v, verb, prec, spec.sharp)
    if spec.plus and not s.startswith(("-", "+")):
        s = "+" + s
    elif spec.space and not s.startswith(("-", "+")):
        s = " " + s
    if s in ("+Inf", "-Inf", "NaN") or s.endswith("Inf") or s.endswith("NaN"):
        if s == "+Inf" and not spec.plus:
            s = "+Inf"
        return _pad(s, _no_zero(spec))
    return _pad(s, spec, numeric=True)


def _no_zero(spec: _Spec) -> _Spec:
    out = _Spec()
    out.width, out.minus = spec.width, spec.minus
    return out


def _fmt_str(s: str, spec: _Spec) -> str:
    verb = spec.verb
    if verb in "vs":
        if spec.prec is not None:
            s = s[: spec.prec]
        return _pad(s, spec)
    if verb == "q":
        if spec.prec is not None:
            s = s[: spec.prec]
        if (
            spec.sharp
            and "`" not in s
            and all(c == "\t" or (is_print(c) and c != "\ufeff") for c in s)
        ):
            return _pad("`" + s + "`", spec)
        q = go_quote(s)
        if spec.plus:
            q = "".join(
                c
                if ord(c) < 0x80
                else (f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}")
                for c in q
            )
        return _pad(q, spec)
    if verb in "xX":
        data = s.encode("utf-8", "surrogateescape")
        sep = " " if spec.space else ""
        parts = []
        for b in data:
            h = f"{b:02x}" if verb == "x" else f"{b:02X}"
            parts.append(("0" + verb if spec.sharp else "") + h)
        return _pad(
            sep.join(parts)
            if sep
            else ("0" + verb if spec.sharp and parts else "")
            + "".join(p[2:] if spec.sharp else p for p in parts),
            spec,
        )
    return _bad_verb(spec, s)


def format_value(arg: Any, spec: _Spec, depth: int) -> str:
    """Go's printArg/printValue for one operand."""
    verb = spec.verb
    if arg is None:
        if verb in "vT" or depth > 0:
            return _pad("<nil>", spec)
        return _bad_verb(spec, arg)
    if verb == "T":
        return _pad(type_name(arg), spec)
    if isinstance(arg, bool):
        if verb in "tv":
            return _pad("true" if arg else "false", spec)
        return _bad_verb(spec, arg)
    if isinstance(arg, int):
        return _fmt_int(arg, spec)
    if isinstance(arg, float):
        return _fmt_float(arg, spec)
    if isinstance(arg, str):
        return _fmt_str(arg, spec)
    stringer = getattr(arg, "stringer", None) if not isinstance(arg, Struct) else arg.stype.stringer
    if stringer is not None and verb in "vsxXq":
        return _fmt_str(stringer(arg), spec)
    if isinstance(arg, bytes):
        if verb in "sqxX":
            return _fmt_str(arg.decode("utf-8", "surrogateescape"), spec)
        return "[" + " ".join(_fmt_int(b, spec) for b in arg) + "]"
    if isinstance(arg, Struct):
        if arg.pointer and depth > 0:
            return _FAKE_ADDR
        inner = []
        for f in arg.stype.fields:
            value = format_value(arg.values.get(f.name), spec, depth + 1)
            inner.append(f"{f.name}:{value}" if spec.plus_v else value)
        return ("&" if arg.pointer else "") + "{" + " ".join(inner) + "}"
    if isinstance(arg, dict):
        items = [
            f"{format_value(k, spec, depth + 1)}:{format_value(arg[k], spec, depth + 1)}"
            for k in sorted(arg)
        ]
        return "map[" + " ".join(items) + "]"
    if isinstance(arg, list):
        return "[" + " ".join(format_value(v, spec, depth + 1) for v in arg) + "]"
    if callable(arg):
        return _FAKE_ADDR
    return _pad(str(arg), spec)


def sprint(args: list[Any]) -> str:
    out = []
    prev_string = False
    for i, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if i > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(format_value(arg, _Spec(), 0))
        prev_string = is_string
    return "".join(out)


def sprintln(args: list[Any]) -> str:
    return " ".join(format_value(a, _Spec(), 0) for a in args) + "\n"


_FLAG_RE = re.compile(r"[#0+\- ]*")


def sprintf(fmt: str, args: list[Any]) -> str:
    out: list[str] = []
    argnum = 0
    reordered = False
    i = 0
    end = len(fmt)
    while i < end:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        spec = _Spec()
        while i < end and fmt[i] in "#0+- ":
            c = fmt[i]
            if c == "#":
                spec.sharp = True
            elif c == "0":
                spec.zero = not spec.minus
            elif c == "+":
                spec.plus = True
            elif c == "-":
                spec.minus, spec.zero = True, False
            else:
                spec.space = True
            i += 1
        # explicit argument index [n]
        good_index = True
        m = re.match(r"\[(\d+)\]", fmt[i:])
        if m:
            argnum, i, reordered = int(m.group(1)) - 1, i + m.end(), True
            good_index = argnum >= 0
        if i < end and fmt[i] == "*":
            i += 1
            if (
                argnum < len(args)
                and isinstance(args[argnum], int)
                and not isinstance(args[argnum], bool)
            ):
                spec.width = args[argnum]
                if spec.width < 0:
                    spec.minus, spec.width = True, -spec.width
                argnum += 1
            else:
                out.append("%!(BADWIDTH)")
                argnum += 1
        else:
            m = re.match(r"\d+", fmt[i:])
            if m:
                spec.width, i = int(m.group()), i + m.end()
        if i < end and fmt[i] == ".":
            i += 1
            m = re.match(r"\[(\d+)\]", fmt[i:])
            if m:
                argnum, i, reordered = int(m.group(1)) - 1, i + m.end(), True
            if i < end and fmt[i] == "*":
                i += 1
                if (
                    argnum < len(args)
                    and isinstance(args[argnum], int)
                    and not isinstance(args[argnum], bool)
                ):
                    spec.prec = args[argnum]
                    if spec.prec < 0:
                        spec.prec = None
                    argnum += 1
                else:
                    out.append("%!(BADPREC)")
                    argnum += 1
            else:
                m = re.match(r"\d+", fmt[i:])
                spec.prec = int(m.group()) if m else 0
                i += m.end() if m else 0
        m = re.match(r"\[(\d+)\]", fmt[i:])
        if m:
            argnum, i, reordered = int(m.group(1)) - 1, i + m.end(), True
        if i >= end:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        spec.verb = verb
        if verb == "%":
            out.append("%")
            continue
        if not good_index:
            out.append(f"%!{verb}(BADINDEX)")
            continue
        if argnum >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argnum]
        argnum += 1
        if verb == "v" and spec.sharp:
            out.append(_go_syntax(arg))
            continue
        if verb == "w":
            spec.verb = "v"
        if spec.verb == "v" and spec.plus:  # %+v: field names, no forced signs
            spec.plus, spec.plus_v = False, True
        out.append(format_value(arg, spec, 0))
    if not reordered and argnum < len(args):
        extras = []
        for arg in args[argnum:]:
            extras.append(
                "<nil>" if arg is None else f"{type_name(arg)}={format_value(arg, _Spec(), 0)}"
            )
        out.append("%!(EXTRA " + ", ".join(extras) + ")")
    return "".join(out)


def _go_syntax(arg: Any, top: bool = True) -> str:
    """%#v for the value shapes templates hold."""
    if arg is None:
        return "<nil>" if top else "interface {}(nil)"
    if isinstance(arg, bool):
        return "true" if arg else "false"
    if isinstance(arg, int):
        return str(arg)
    if isinstance(arg, float):
        return format_float(arg)
    if isinstance(arg, str):
        return go_quote(arg)
    if isinstance(arg, (GoSlice, GoMap, GoBytes, list, dict, bytes)):
        tname = type_name(arg)
        if isinstance(arg, dict):
            if getattr(arg, "nil", False):
                return f"{tname}(nil)"
            body = ", ".join(f"{go_quote(k)}:{_go_syntax(arg[k], False)}" for k in sorted(arg))
            return tname + "{" + body + "}"
        if getattr(arg, "nil", False):
            return f"{tname}(nil)"
        if isinstance(arg, bytes):
            return tname + "{" + ", ".join(f"0x{b:x}" for b in arg) + "}"
        return tname + "{" + ", ".join(_go_syntax(v, False) for v in arg) + "}"
    if isinstance(arg, Struct):
        if arg.pointer and not top:
            return f"(*{arg.stype.name})({_FAKE_ADDR})"
        body = ", ".join(
            f"{f.name}:{_go_syntax(arg.values.get(f.name), False)}" for f in arg.stype.fields
        )
        return ("&" if arg.pointer else "") + arg.stype.name + "{" + body + "}"
    return str(arg)
