"""A small SOQL, part three: binding a parsed query to the org's fields, and evaluating it.

The grammar is in `soql_parse.py`, the tokenizer in `soql_lex.py`. Text comparisons ignore case
(ids do not); `!=` and `NOT IN` match nulls, `<`/`>` never do; ORDER BY puts nulls first
ascending and last descending unless NULLS FIRST/LAST says otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from revops_sandbox.salesforce.schema import NUMBER_TYPES, STRING_TYPES, FieldSpec
from revops_sandbox.salesforce.soql_parse import (
    BoolOp,
    FieldRef,
    Not,
    SoqlError,
    Token,
    parse,
)

__all__ = ["CompiledQuery", "SoqlError", "compile_query"]

Row = dict[str, Any]


@dataclass(frozen=True)
class CompiledQuery:
    fields: tuple[str, ...]
    count: str | bool | None
    predicate: Callable[[Row], bool]
    # (field, descending, nulls_first, exact): ids sort by their characters, other text by case
    sort_keys: tuple[tuple[str, bool, bool, bool], ...]
    limit: int | None
    offset: int | None

    def run(self, rows: list[Row]) -> list[Row]:
        selected = [row for row in rows if self.predicate(row)]
        for name, descending, nulls_first, exact in reversed(self.sort_keys):
            null_rank = 0 if nulls_first != descending else 2
            selected.sort(
                key=lambda r, n=name, z=null_rank, e=exact: _sort_key(r.get(n), z, e),
                reverse=descending,
            )
        start = self.offset or 0
        end = None if self.limit is None else start + self.limit
        return selected[start:end]


def _sort_key(value: Any, null_rank: int, exact: bool) -> tuple[int, Any]:
    if value is None:
        return (null_rank, 0)
    return (1, value.casefold() if isinstance(value, str) and not exact else value)


def compile_query(query: str, sobjects: dict[str, dict[str, FieldSpec]]) -> CompiledQuery:
    """Parse `query` and bind it to the fields of `sobjects` (lower-cased name -> fields)."""
    ast = parse(query)
    fields_of = sobjects.get(ast.sobject.name.lower())
    if fields_of is None:
        raise SoqlError(
            "INVALID_TYPE",
            f"sObject type '{ast.sobject.name}' is not supported. If you are attempting to use a "
            "custom object, be sure to append the '__c' after the entity name. Please reference "
            "your WSDL or the describe call for the appropriate names.",
            ast.sobject.pos,
        )
    entity = ast.sobject.name

    def resolve(ref: FieldRef) -> FieldSpec:
        spec = fields_of.get(ref.name.lower())
        if spec is None:
            raise SoqlError(
                "INVALID_FIELD",
                f"No such column '{ref.name}' on entity '{entity}'. If you are attempting to use "
                "a custom field, be sure to append the '__c' after the custom field name. Please "
                "reference your WSDL or the describe call for the appropriate names.",
                ref.pos,
            )
        return spec

    names: list[str] = []
    for ref in ast.fields:
        spec = resolve(ref)
        if spec.name in names:
            raise SoqlError("MALFORMED_QUERY", f"duplicate field selected: {spec.name}", ref.pos)
        names.append(spec.name)
    count = resolve(ast.count).name if isinstance(ast.count, FieldRef) else ast.count
    predicate = _bind(ast.where, resolve) if ast.where is not None else (lambda row: True)
    sort_keys = []
    for item in ast.order_by:
        spec = resolve(item.field)
        if not spec.sortable:
            raise SoqlError(
                "INVALID_FIELD",
                f"field '{spec.name}' can not be sorted in a query call",
                item.field.pos,
            )
        exact = spec.type in {"id", "reference"}
        sort_keys.append((spec.name, item.descending, item.nulls_first, exact))
    return CompiledQuery(tuple(names), count, predicate, tuple(sort_keys), ast.limit, ast.offset)


def _bind(node: Any, resolve: Callable[[FieldRef], FieldSpec]) -> Callable[[Row], bool]:
    if isinstance(node, BoolOp):
        parts = [_bind(item, resolve) for item in node.items]
        if node.op == "AND":
            return lambda row: all(p(row) for p in parts)
        return lambda row: any(p(row) for p in parts)
    if isinstance(node, Not):
        inner = _bind(node.item, resolve)
        return lambda row: not inner(row)
    spec = resolve(node.field)
    if not spec.filterable:
        raise SoqlError(
            "INVALID_FIELD",
            f"field '{spec.name}' can not be filtered in a query call",
            node.field.pos,
        )
    values = [_literal(spec, tok, node.op) for tok in node.values]
    return _comparator(spec, node.op, values)


def _type_error(spec: FieldSpec, tok: Token, expected: str, quotes: str) -> SoqlError:
    return SoqlError(
        "INVALID_QUERY_FILTER_OPERATOR",
        f"value of filter criterion for field '{spec.name}' must be of type {expected} and "
        f"{quotes} ({tok.text} given)",
        tok.pos,
    )


def _literal(spec: FieldSpec, tok: Token, op: str) -> Any:
    if tok.kind == "KEYWORD" and tok.value == "NULL":
        if op not in {"=", "!=", "IN", "NOT IN"}:
            raise SoqlError("MALFORMED_QUERY", f"invalid operator on null: {op}", tok.pos)
        return None
    kind = spec.type
    if kind in STRING_TYPES:
        if tok.kind != "STRING":
            raise _type_error(spec, tok, "string", "should be enclosed in quotes")
        return tok.value
    if op == "LIKE":
        raise SoqlError(
            "INVALID_QUERY_FILTER_OPERATOR",
            f"invalid operator on field '{spec.name}': LIKE works on text fields only",
            tok.pos,
        )
    if kind == "datetime":
        if tok.kind != "DATETIME":
            raise _type_error(spec, tok, "dateTime", "should not be enclosed in quotes")
        return tok.value
    if kind in NUMBER_TYPES:
        if tok.kind != "NUMBER":
            raise _type_error(spec, tok, "number", "should not be enclosed in quotes")
        return tok.value
    if kind == "boolean":
        if tok.kind != "KEYWORD" or tok.value not in {"TRUE", "FALSE"}:
            raise _type_error(spec, tok, "boolean", "should not be enclosed in quotes")
        if op not in {"=", "!=", "IN", "NOT IN"}:
            raise SoqlError(
                "INVALID_QUERY_FILTER_OPERATOR", f"invalid operator on boolean: {op}", tok.pos
            )
        return tok.value == "TRUE"
    raise _type_error(spec, tok, kind, "should match the field")


def _norm(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _like(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "%_":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _comparator(spec: FieldSpec, op: str, values: list[Any]) -> Callable[[Row], bool]:
    name = spec.name
    exact = spec.type in {"id", "reference"}  # ids compare as given; other text ignores case
    norm = (lambda v: v) if exact else _norm
    if op == "LIKE":
        regex = _like(values[0])
        return lambda row: row.get(name) is not None and regex.fullmatch(row[name]) is not None
    if op in {"IN", "NOT IN"}:
        members = {norm(v) for v in values}
        if op == "IN":
            return lambda row: norm(row.get(name)) in members
        return lambda row: norm(row.get(name)) not in members
    target = norm(values[0])
    if op == "=":
        return lambda row: norm(row.get(name)) == target
    if op == "!=":
        return lambda row: norm(row.get(name)) != target
    compare = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }[op]
    return lambda row: row.get(name) is not None and compare(norm(row[name]), target)
