"""Lexer for Go text/template, a port of the state machine in text/template/parse/lex.go.

Positions are byte-free character offsets into the template text; lines are 1-based and
counted exactly like Go's lexer (newlines inside raw strings and actions count).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from .goprint import is_print
from .literals import go_quote

# A lexer state returns the next state, or None once it has stopped (Go's stateFn).
StateFn = Callable[[], "StateFn"] | None


class T(IntEnum):
    ERROR = 0
    BOOL = 1
    CHAR = 2
    CHAR_CONSTANT = 3
    COMMENT = 4
    COMPLEX = 5
    ASSIGN = 6
    DECLARE = 7
    EOF = 8
    FIELD = 9
    IDENTIFIER = 10
    LEFT_DELIM = 11
    LEFT_PAREN = 12
    NUMBER = 13
    PIPE = 14
    RAW_STRING = 15
    RIGHT_DELIM = 16
    RIGHT_PAREN = 17
    SPACE = 18
    STRING = 19
    TEXT = 20
    VARIABLE = 21
    # Keywords sort after KEYWORD (Go prints them as <word>).
    KEYWORD = 50
    BLOCK = 51
    BREAK = 52
    CONTINUE = 53
    DOT = 54
    DEFINE = 55
    ELSE = 56
    END = 57
    IF = 58
    NIL = 59
    RANGE = 60
    TEMPLATE = 61
    WITH = 62


KEYWORDS = {
    ".": T.DOT,
    "block": T.BLOCK,
    "break": T.BREAK,
    "continue": T.CONTINUE,
    "define": T.DEFINE,
    "else": T.ELSE,
    "end": T.END,
    "if": T.IF,
    "range": T.RANGE,
    "nil": T.NIL,
    "template": T.TEMPLATE,
    "with": T.WITH,
}

LEFT, RIGHT = "{{", "}}"
LEFT_COMMENT, RIGHT_COMMENT = "/*", "*/"
SPACE_CHARS = " \t\r\n"


@dataclass(frozen=True)
class Item:
    typ: T
    pos: int
    val: str
    line: int

    def __str__(self) -> str:
        # Mirrors item.String() in lex.go (used in "unexpected ..." messages).
        if self.typ == T.EOF:
            return "EOF"
        if self.typ == T.ERROR:
            return self.val
        if self.typ > T.KEYWORD:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return go_quote(self.val[:10]) + "..."
        return go_quote(self.val)


def is_space(ch: str) -> bool:
    return ch in SPACE_CHARS and ch != ""


def is_alnum(ch: str) -> bool:
    return ch != "" and (ch == "_" or ch.isalpha() or ch.isdigit())


def _right_trim_len(s: str) -> int:
    return len(s) - len(s.rstrip(SPACE_CHARS))


def _left_trim_len(s: str) -> int:
    return len(s) - len(s.lstrip(SPACE_CHARS))


def _has_left_trim(s: str) -> bool:
    return len(s) >= 2 and s[0] == "-" and is_space(s[1])


def _has_right_trim(s: str) -> bool:
    return len(s) >= 2 and is_space(s[0]) and s[1] == "-"


class Lexer:
    """Pull-based lexer: call next_item() until EOF or ERROR."""

    def __init__(self, text: str) -> None:
        self.input = text
        self.pos = 0
        self.start = 0
        self.line = 1
        self.start_line = 1
        self.paren_depth = 0
        self.inside = False
        self.items: list[Item] = []
        self.done = False
        # break/continue are keywords because Ollama defines no functions with those names.

    # -- helpers -------------------------------------------------------------------------
    def next(self) -> str:
        if self.pos >= len(self.input):
            self.pos = len(self.input) + 1  # mark EOF so backup() is symmetric
            return ""
        ch = self.input[self.pos]
        self.pos += 1
        if ch == "\n":
            self.line += 1
        return ch

    def backup(self) -> None:
        if self.pos > len(self.input):
            self.pos = len(self.input)
            return
        self.pos -= 1
        if self.input[self.pos] == "\n":
            self.line -= 1

    def peek(self) -> str:
        return self.input[self.pos] if self.pos < len(self.input) else ""

    def emit(self, typ: T) -> None:
        self.items.append(Item(typ, self.start, self.input[self.start : self.pos], self.start_line))
        self.start = self.pos
        self.start_line = self.line

    def ignore(self) -> None:
        self.line += self.input.count("\n", self.start, self.pos)
        self.start = self.pos
        self.start_line = self.line

    def accept(self, valid: str) -> bool:
        ch = self.next()
        if ch != "" and ch in valid:
            return True
        self.backup()
        return False

    def accept_run(self, valid: str) -> None:
        while True:
            ch = self.next()
            if ch == "" or ch not in valid:
                break
        self.backup()

    def error(self, msg: str) -> None:
        self.items.append(Item(T.ERROR, self.start, msg, self.start_line))
        self.done = True

    def at_right_delim(self) -> tuple[bool, bool]:
        rest = self.input[self.pos :]
        if _has_right_trim(rest) and rest[2:].startswith(RIGHT):
            return True, True
        if rest.startswith(RIGHT):
            return True, False
        return False, False

    def at_terminator(self) -> bool:
        ch = self.peek()
        if ch == "" or is_space(ch) or ch in ".,|:)(":
            return True
        return self.input.startswith(RIGHT, self.pos)

    # -- driver --------------------------------------------------------------------------
    def tokens(self) -> list[Item]:
        state: StateFn = self.lex_text
        while not self.done and state is not None:
            state = state()
        return self.items

    def lex_text(self) -> StateFn:
        x = self.input.find(LEFT, self.pos)
        if x >= 0:
            if x > self.pos:
                self.pos = x
                trim = 0
                delim_end = self.pos + len(LEFT)
                if _has_left_trim(self.input[delim_end:]):
                    trim = _right_trim_len(self.input[self.start : self.pos])
                self.pos -= trim
                self.line += self.input.count("\n", self.start, self.pos)
                text = self.input[self.start : self.pos]
                if text:
                    self.items.append(Item(T.TEXT, self.start, text, self.start_line))
                self.start = self.pos
                self.start_line = self.line
                self.pos += trim
                self.ignore()
            return self.lex_left_delim
        self.pos = len(self.input)
        if self.pos > self.start:
            self.line += self.input.count("\n", self.start, self.pos)
            self.emit(T.TEXT)
        self.emit(T.EOF)
        self.done = True
        return self.lex_text

    def lex_left_delim(self) -> StateFn:
        self.pos += len(LEFT)
        trim = _has_left_trim(self.input[self.pos :])
        after = 2 if trim else 0
        if self.input.startswith(LEFT_COMMENT, self.pos + after):
            self.pos += after
            self.ignore()
            return self.lex_comment
        start, line = self.start, self.start_line
        self.inside = True
        self.pos += after
        self.ignore()
        self.paren_depth = 0
        self.items.append(Item(T.LEFT_DELIM, start, LEFT, line))
        return self.lex_inside

    def lex_comment(self) -> StateFn:
        self.pos += len(LEFT_COMMENT)
        x = self.input.find(RIGHT_COMMENT, self.pos)
        if x < 0:
            self.error("unclosed comment")
            return None
        self.pos = x + len(RIGHT_COMMENT)
        delim, trim = self.at_right_delim()
        if not delim:
            self.error("comment ends before closing delimiter")
            return None
        if trim:
            self.pos += 2
        self.pos += len(RIGHT)
        if trim:
            self.pos += _left_trim_len(self.input[self.pos :])
        self.ignore()
        return self.lex_text

    def lex_right_delim(self) -> StateFn:
        _, trim = self.at_right_delim()
        if trim:
            self.pos += 2
            self.ignore()
        self.pos += len(RIGHT)
        self.emit(T.RIGHT_DELIM)
        if trim:
            self.pos += _left_trim_len(self.input[self.pos :])
            self.ignore()
        self.inside = False
        return self.lex_text

    def lex_inside(self) -> StateFn:
        delim, _ = self.at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return self.lex_right_delim
            self.error("unclosed left paren")
            return None
        ch = self.next()
        if ch == "":
            self.error("unclosed action")
            return None
        if is_space(ch):
            self.backup()
            return self.lex_space
        if ch == "=":
            self.emit(T.ASSIGN)
        elif ch == ":":
            if self.next() != "=":
                self.error("expected :=")
                return None
            self.emit(T.DECLARE)
        elif ch == "|":
            self.emit(T.PIPE)
        elif ch == '"':
            return self.lex_quote
        elif ch == "`":
            return self.lex_raw_quote
        elif ch == "$":
            return self.lex_variable
        elif ch == "'":
            return self.lex_char
        elif ch == "." and self.pos < len(self.input) and not ("0" <= self.input[self.pos] <= "9"):
            return self.lex_field
        elif ch in "+-." or "0" <= ch <= "9":
            self.backup()
            return self.lex_number
        elif is_alnum(ch):
            self.backup()
            return self.lex_identifier
        elif ch == "(":
            self.emit(T.LEFT_PAREN)
            self.paren_depth += 1
        elif ch == ")":
            self.paren_depth -= 1
            if self.paren_depth < 0:
                self.error("unexpected right paren")
                return None
            self.emit(T.RIGHT_PAREN)
        elif ord(ch) < 0x80 and is_print(ch):
            self.emit(T.CHAR)
        else:
            self.error(f"unrecognized character in action: {_u(ch)}")
            return None
        return self.lex_inside

    def lex_space(self) -> StateFn:
        n = 0
        while is_space(self.peek()):
            self.next()
            n += 1
        # A trim-marked right delimiter begins with a space: leave it for lex_inside.
        rest = self.input[self.pos - 1 :]
        if _has_right_trim(rest) and rest[2:].startswith(RIGHT):
            self.backup()
            if n == 1:
                return self.lex_inside
        self.emit(T.SPACE)
        return self.lex_inside

    def lex_identifier(self) -> StateFn:
        while True:
            ch = self.next()
            if is_alnum(ch):
                continue
            self.backup()
            word = self.input[self.start : self.pos]
            if not self.at_terminator():
                self.error(f"bad character {_u(ch)}")
                return None
            if word in KEYWORDS and KEYWORDS[word] > T.KEYWORD:
                self.emit(KEYWORDS[word])
            elif word[0] == ".":
                self.emit(T.FIELD)
            elif word in ("true", "false"):
                self.emit(T.BOOL)
            else:
                self.emit(T.IDENTIFIER)
            return self.lex_inside

    def lex_field(self) -> StateFn:
        return self._field_or_variable(T.FIELD)

    def lex_variable(self) -> StateFn:
        if self.at_terminator():
            self.emit(T.VARIABLE)
            return self.lex_inside
        return self._field_or_variable(T.VARIABLE)

    def _field_or_variable(self, typ: T) -> StateFn:
        if self.at_terminator():
            self.emit(T.VARIABLE if typ == T.VARIABLE else T.DOT)
            return self.lex_inside
        while True:
            ch = self.next()
            if not is_alnum(ch):
                self.backup()
                break
        if not self.at_terminator():
            self.error(f"bad character {_u(ch)}")
            return None
        self.emit(typ)
        return self.lex_inside

    def lex_char(self) -> StateFn:
        while True:
            ch = self.next()
            if ch == "\\":
                if self.next() not in ("", "\n"):
                    continue
                self.error("unterminated character constant")
                return None
            if ch in ("", "\n"):
                self.error("unterminated character constant")
                return None
            if ch == "'":
                break
        self.emit(T.CHAR_CONSTANT)
        return self.lex_inside

    def lex_number(self) -> StateFn:
        if not self._scan_number():
            self.error(f"bad number syntax: {go_quote(self.input[self.start : self.pos])}")
            return None
        if self.peek() in ("+", "-") and self.peek() != "":
            if not self._scan_number() or self.input[self.pos - 1] != "i":
                self.error(f"bad number syntax: {go_quote(self.input[self.start : self.pos])}")
                return None
            self.emit(T.COMPLEX)
        else:
            self.emit(T.NUMBER)
        return self.lex_inside

    def _scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 11 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 23 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        if is_alnum(self.peek()):
            self.next()
            return False
        return True

    def lex_quote(self) -> StateFn:
        while True:
            ch = self.next()
            if ch == "\\":
                if self.next() not in ("", "\n"):
                    continue
                self.error("unterminated quoted string")
                return None
            if ch in ("", "\n"):
                self.error("unterminated quoted string")
                return None
            if ch == '"':
                break
        self.emit(T.STRING)
        return self.lex_inside

    def lex_raw_quote(self) -> StateFn:
        while True:
            ch = self.next()
            if ch == "":
                self.error("unterminated raw quoted string")
                return None
            if ch == "`":
                break
        self.emit(T.RAW_STRING)
        return self.lex_inside


def _u(ch: str) -> str:
    """Go's %#U: U+0041 'A'."""
    if ch == "":
        return "U+FFFFFFFFFFFFFFFF"  # Go prints eof (-1) this way
    o = ord(ch)
    base = f"U+{o:04X}"
    return f"{base} '{ch}'" if is_print(ch) else base
