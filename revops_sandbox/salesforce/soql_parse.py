"""A small SOQL, part two: the recursive-descent parser (the tokenizer is `soql_lex.py`).

Grammar (keywords case-insensitive, field names resolved case-insensitively):

    query      := SELECT select FROM name [WHERE condition] [ORDER BY order (, order)*]
                  [LIMIT int] [OFFSET int]
    select     := COUNT ( [field] ) | field (, field)*
    condition  := unary ((AND unary)* | (OR unary)*)     -- AND and OR never mix unparenthesized
    unary      := NOT unary | ( condition ) | comparison
    comparison := field (= | != | <> | < | <= | > | >=) value | field [NOT] IN ( value, ... )
                | field LIKE 'pattern'
    value      := 'string' | number | datetime | date | TRUE | FALSE | NULL
    order      := field [ASC | DESC] [NULLS (FIRST | LAST)]

Datetime literals are unquoted: `2026-11-20T00:00:00Z`, `...+01:00`, with optional fractional
seconds. Errors carry Salesforce's error codes (MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE,
INVALID_QUERY_FILTER_OPERATOR) and a message that points at the culprit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from revops_sandbox.salesforce.soql_lex import SoqlError, Token, tokenize


@dataclass(frozen=True)
class FieldRef:
    name: str
    pos: int


@dataclass(frozen=True)
class Comparison:
    field: FieldRef
    op: str  # = != < <= > >= IN NOT IN LIKE
    values: tuple[Token, ...]


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND / OR
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Not:
    item: Any


@dataclass(frozen=True)
class OrderItem:
    field: FieldRef
    descending: bool
    nulls_first: bool


@dataclass(frozen=True)
class Query:
    fields: tuple[FieldRef, ...]
    count: FieldRef | bool | None  # True for count(), a field for COUNT(field)
    sobject: FieldRef
    where: Any
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None


class Parser:
    def __init__(self, query: str) -> None:
        self.tokens = tokenize(query)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def _advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def _unexpected(self) -> SoqlError:
        return SoqlError("MALFORMED_QUERY", f"unexpected token: '{self.tok.text}'", self.tok.pos)

    def _keyword(self, *words: str) -> bool:
        return self.tok.kind == "KEYWORD" and self.tok.value in words

    def _expect_keyword(self, word: str) -> Token:
        if not self._keyword(word):
            raise self._unexpected()
        return self._advance()

    def _expect(self, kind: str) -> Token:
        if self.tok.kind != kind:
            raise self._unexpected()
        return self._advance()

    def _field(self) -> FieldRef:
        tok = self._expect("IDENT")
        return FieldRef(tok.text, tok.pos)

    def _int(self) -> int:
        tok = self._expect("NUMBER")
        if not isinstance(tok.value, int) or tok.value < 0:
            raise SoqlError(
                "MALFORMED_QUERY", f"expected a whole number, got '{tok.text}'", tok.pos
            )
        return tok.value

    def parse(self) -> Query:
        self._expect_keyword("SELECT")
        fields: list[FieldRef] = []
        count: FieldRef | bool | None = None
        if self.tok.kind == "IDENT" and self.tok.text.lower() == "count" and self._peek_paren():
            self._advance()
            self._expect("(")
            count = self._field() if self.tok.kind == "IDENT" else True
            self._expect(")")
        else:
            fields.append(self._field())
            while self.tok.kind == ",":
                self._advance()
                fields.append(self._field())
        self._expect_keyword("FROM")
        sobject = self._field()
        where = None
        if self._keyword("WHERE"):
            self._advance()
            where = self._condition()
        order: list[OrderItem] = []
        if self._keyword("ORDER"):
            self._advance()
            self._expect_keyword("BY")
            order.append(self._order_item())
            while self.tok.kind == ",":
                self._advance()
                order.append(self._order_item())
        limit = offset = None
        if self._keyword("LIMIT"):
            self._advance()
            limit = self._int()
        if self._keyword("OFFSET"):
            self._advance()
            offset = self._int()
        if self.tok.kind != "EOF":
            raise self._unexpected()
        return Query(tuple(fields), count, sobject, where, tuple(order), limit, offset)

    def _peek_paren(self) -> bool:
        return self.tokens[self.i + 1].kind == "("

    def _order_item(self) -> OrderItem:
        ref = self._field()
        descending = False
        if self._keyword("ASC", "DESC"):
            descending = self._advance().value == "DESC"
        nulls_first = not descending
        if self._keyword("NULLS"):
            self._advance()
            if not self._keyword("FIRST", "LAST"):
                raise self._unexpected()
            nulls_first = self._advance().value == "FIRST"
        return OrderItem(ref, descending, nulls_first)

    def _condition(self) -> Any:
        items = [self._unary()]
        op = self.tok.value if self._keyword("AND", "OR") else None
        while op is not None and self._keyword(op):
            self._advance()
            items.append(self._unary())
        if self._keyword("AND", "OR"):  # the other operator, unparenthesized
            raise self._unexpected()
        return items[0] if op is None else BoolOp(op, tuple(items))

    def _unary(self) -> Any:
        if self._keyword("NOT"):
            self._advance()
            return Not(self._unary())
        if self.tok.kind == "(":
            self._advance()
            inner = self._condition()
            self._expect(")")
            return inner
        return self._comparison()

    def _comparison(self) -> Comparison:
        ref = self._field()
        if self.tok.kind == "OP":
            return Comparison(ref, self._advance().value, (self._value(),))
        if self._keyword("LIKE"):
            self._advance()
            return Comparison(ref, "LIKE", (self._value(),))
        negate = False
        if self._keyword("NOT"):
            self._advance()
            negate = True
        if self._keyword("IN"):
            self._advance()
            self._expect("(")
            values = [self._value()]
            while self.tok.kind == ",":
                self._advance()
                values.append(self._value())
            self._expect(")")
            return Comparison(ref, "NOT IN" if negate else "IN", tuple(values))
        raise self._unexpected()

    def _value(self) -> Token:
        if self.tok.kind in {"STRING", "NUMBER", "DATETIME", "DATE"} or self._keyword(
            "TRUE", "FALSE", "NULL"
        ):
            return self._advance()
        raise self._unexpected()


def parse(query: str) -> Query:
    return Parser(query).parse()
