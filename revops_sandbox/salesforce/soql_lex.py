"""A small SOQL, part one: the tokenizer, and errors in Salesforce's layout.

Datetime literals are unquoted (`2026-11-20T00:00:00Z`, `...+01:00`, optional fractional
seconds); anything that starts like a date but is not a valid one is a MALFORMED_QUERY naming the
literal. Strings take Salesforce's backslash escapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

KEYWORDS = {
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC",
    "NULLS", "FIRST", "LAST", "LIMIT", "OFFSET", "TRUE", "FALSE", "NULL",
}  # fmt: skip
_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
)
_DATE_START = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TAIL = re.compile(r"[\w:.+\-]*")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_OPERATORS = ("<=", ">=", "!=", "<>", "=", "<", ">")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}
DATETIME_FORMS = "YYYY-MM-DDThh:mm:ss[.sss]Z or YYYY-MM-DDThh:mm:ss[.sss]+hh:mm / -hh:mm"


class SoqlError(Exception):
    def __init__(self, error_code: str, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message
        self.position = position

    def render(self, query: str) -> str:
        """Salesforce's layout: the query line, a caret, `ERROR at Row:R:Column:C`, the reason."""
        if self.position is None:
            return self.message
        before = query[: self.position]
        row = before.count("\n") + 1
        line_start = before.rfind("\n") + 1
        column = self.position - line_start + 1
        line = query[line_start:].split("\n", 1)[0]
        caret = " " * (column - 1) + "^"
        return f"\n{line}\n{caret}\nERROR at Row:{row}:Column:{column}\n{self.message}"


@dataclass(frozen=True)
class Token:
    kind: str  # KEYWORD IDENT STRING NUMBER DATETIME DATE OP ( ) , EOF
    text: str
    value: Any
    pos: int


def _parse_datetime(text: str, pos: int) -> datetime:
    match = _DATETIME.match(text)
    error = SoqlError(
        "MALFORMED_QUERY",
        f"malformed datetime literal '{text}': expected {DATETIME_FORMS}",
        pos,
    )
    if match is None:
        raise error
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        micro = int((fraction or ".0")[1:].ljust(6, "0"))
        naive = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro
        )
    except ValueError:
        raise error from None
    if zone == "Z":
        return naive.replace(tzinfo=UTC)
    sign = 1 if zone[0] == "+" else -1
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    if hours > 14 or minutes > 59:
        raise error
    return (naive - sign * timedelta(hours=hours, minutes=minutes)).replace(tzinfo=UTC)


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch == "'":
            i = _read_string(query, i, tokens)
        elif ch.isdigit() and _DATE_START.match(query, i):
            tail = _DATE_TAIL.match(query, i + 10)
            end = tail.end() if tail else i + 10
            text = query[i:end]
            if end == i + 10:
                try:
                    tokens.append(Token("DATE", text, date.fromisoformat(text), i))
                except ValueError:
                    raise SoqlError(
                        "MALFORMED_QUERY", f"malformed date literal '{text}'", i
                    ) from None
            else:
                tokens.append(Token("DATETIME", text, _parse_datetime(text, i), i))
            i = end
        elif ch.isdigit() or (ch == "-" and i + 1 < n and query[i + 1].isdigit()):
            match = _NUMBER.match(query, i)
            assert match is not None
            text = match.group(0)
            value: Any = float(text) if "." in text else int(text)
            tokens.append(Token("NUMBER", text, value, i))
            i = match.end()
        elif ch.isalpha() or ch == "_":
            match = _IDENT.match(query, i)
            assert match is not None
            text = match.group(0)
            kind = "KEYWORD" if text.upper() in KEYWORDS else "IDENT"
            tokens.append(Token(kind, text, text.upper() if kind == "KEYWORD" else text, i))
            i = match.end()
        elif ch in "(),":
            tokens.append(Token(ch, ch, ch, i))
            i += 1
        else:
            op = next((o for o in _OPERATORS if query.startswith(o, i)), None)
            if op is None:
                raise SoqlError(
                    "MALFORMED_QUERY", f"line 1:{i} no viable alternative at character '{ch}'", i
                )
            tokens.append(Token("OP", op, "!=" if op == "<>" else op, i))
            i += len(op)
    tokens.append(Token("EOF", "<EOF>", None, n))
    return tokens


def _read_string(query: str, start: int, tokens: list[Token]) -> int:
    i, out = start + 1, []
    while i < len(query):
        ch = query[i]
        if ch == "\\" and i + 1 < len(query):
            nxt = query[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            elif nxt in "%_":
                out.append("\\" + nxt)  # kept for LIKE, where it means a literal % or _
            else:
                raise SoqlError("MALFORMED_QUERY", f"Invalid string literal escape '\\{nxt}'", i)
            i += 2
        elif ch == "'":
            tokens.append(Token("STRING", query[start : i + 1], "".join(out), start))
            return i + 1
        else:
            out.append(ch)
            i += 1
    raise SoqlError("MALFORMED_QUERY", "unterminated string literal", start)


# ---- abstract syntax -------------------------------------------------------------------------
