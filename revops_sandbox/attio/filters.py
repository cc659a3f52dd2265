"""Attio's query language: shorthand and verbose filters, `$and/$or/$not`, paths, and sorts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from revops_sandbox.attio.addresses import parse_timestamp
from revops_sandbox.attio.errors import ApiError
from revops_sandbox.attio.schema import Attribute, Container, ListDef
from revops_sandbox.attio.state import Item, Workspace

Predicate = Callable[[Item], bool]
DEFAULT_PROPERTY = {
    "email-address": "email_address",
    "domain": "domain",
    "personal-name": "full_name",
    "select": "option",
    "status": "status",
    "record-reference": "target_record_id",
    "actor-reference": "referenced_actor_id",
    "currency": "currency_value",
    "phone-number": "phone_number",
}
PROPERTIES = {
    "email-address": {
        "email_address",
        "email_domain",
        "email_root_domain",
        "email_local_specifier",
        "original_email_address",
    },
    "domain": {"domain", "root_domain"},
    "personal-name": {"first_name", "last_name", "full_name"},
    "record-reference": {"target_object", "target_record_id"},
    "actor-reference": {"referenced_actor_type", "referenced_actor_id"},
    "currency": {"currency_value", "currency_code"},
    "phone-number": {"phone_number", "country_code", "original_phone_number"},
    "location": {
        "line_1",
        "line_2",
        "line_3",
        "line_4",
        "locality",
        "region",
        "postcode",
        "country_code",
        "latitude",
        "longitude",
    },
    "select": {"option"},
    "status": {"status"},
}
CASELESS = {
    "email_address",
    "email_domain",
    "email_root_domain",
    "email_local_specifier",
    "domain",
    "root_domain",
}
OPERATORS = {
    "$eq",
    "$in",
    "$not_empty",
    "$contains",
    "$starts_with",
    "$ends_with",
    "$lt",
    "$lte",
    "$gt",
    "$gte",
}
ORDERED = {"$lt", "$lte", "$gt", "$gte"}


def filter_error(message: str) -> ApiError:
    return ApiError(400, "filter_error", message)


class Query:
    """Compiles filters and sorts for one object or list against the workspace."""

    def __init__(self, ws: Workspace, c: Container) -> None:
        self.ws = ws
        self.c = c

    # --- values -----------------------------------------------------------------------------
    def stored(self, c: Container, attr: Attribute, item: Item) -> list[dict[str, Any]]:
        if attr.is_system and not attr.is_writable:
            system = self.ws._system_values(c, item)
            if attr.api_slug in system:
                return [system[attr.api_slug]]
        return item.values.get(attr.id, [])

    def prop(self, attr: Attribute, stored: dict[str, Any], name: str) -> Any:
        if name == "active_from":
            return stored["active_from"]
        if attr.type == "select":
            opt = next(o for o in attr.options if o.id == stored["option"])
            return (opt.id, opt.title)
        if attr.type == "status":
            st = next(s for s in attr.statuses if s.id == stored["status"])
            return (st.id, st.title)
        return stored.get(name)

    # --- filters ----------------------------------------------------------------------------
    def compile(self, flt: Any) -> Predicate:
        if flt is None:
            return lambda item: True
        if not isinstance(flt, dict):
            raise filter_error("A filter must be an object.")
        parts = [
            self._clause(key, value, flt) for key, value in flt.items() if key != "constraints"
        ]
        return lambda item: all(p(item) for p in parts)

    def _clause(self, key: str, value: Any, whole: dict[str, Any]) -> Predicate:
        if key in ("$and", "$or"):
            if not isinstance(value, list):
                raise filter_error(f"{key} expects an array of filters.")
            subs = [self.compile(v) for v in value]
            if key == "$and":
                return lambda item: all(p(item) for p in subs)
            return lambda item: any(p(item) for p in subs)
        if key == "$not":
            sub = self.compile(value)
            return lambda item: not sub(item)
        if key == "path":
            return self._path(value, whole.get("constraints"))
        if key.startswith("$"):
            raise filter_error(f'Unknown filter operator "{key}".')
        attr = self.c.attribute(key)
        if attr is None:
            raise filter_error(f'Cannot filter on unknown attribute with slug/ID "{key}".')
        test = self._attribute_test(attr, value)
        return lambda item: test(self.c, item)

    def _attribute_test(self, attr: Attribute, cond: Any) -> Callable[[Container, Item], bool]:
        default = DEFAULT_PROPERTY.get(attr.type, "value")
        allowed = PROPERTIES.get(attr.type, {"value"})
        if isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond):
            if "$not_empty" in cond:
                want = cond["$not_empty"]
                if set(cond) != {"$not_empty"} or not isinstance(want, bool):
                    raise filter_error("$not_empty takes true or false on its own.")
                return lambda c, item: bool(self.stored(c, attr, item)) == want
            checks = {default: self._operators(attr, default, cond)}
        elif isinstance(cond, dict) and cond:
            unknown = [k for k in cond if k not in allowed and k != "active_from"]
            if unknown:
                raise filter_error(
                    f'Unknown property "{unknown[0]}" for attribute "{attr.api_slug}" '
                    f"of type {attr.type}."
                )
            checks = {k: self._operators(attr, k, v) for k, v in cond.items()}
        elif isinstance(cond, str | int | float | bool):
            checks = {default: self._operators(attr, default, {"$eq": cond})}
        else:
            raise filter_error(f'Invalid condition for attribute "{attr.api_slug}".')

        def test(c: Container, item: Item) -> bool:
            return any(
                all(check(self.prop(attr, s, name)) for name, check in checks.items())
                for s in self.stored(c, attr, item)
            )

        return test

    def _operators(self, attr: Attribute, name: str, cond: Any) -> Callable[[Any], bool]:
        if not isinstance(cond, dict):
            cond = {"$eq": cond}
        tests = []
        for op, operand in cond.items():
            if op not in OPERATORS or op == "$not_empty":
                raise filter_error(f'Unknown or misplaced filter operator "{op}".')
            tests.append(self._operator(attr, name, op, operand))
        return lambda v: all(t(v) for t in tests)

    def _operator(self, attr: Attribute, name: str, op: str, operand: Any) -> Callable[[Any], bool]:
        timed = attr.type == "timestamp" or name == "active_from"
        if op == "$in":
            if not isinstance(operand, list):
                raise filter_error("$in expects an array.")
            eqs = [self._operator(attr, name, "$eq", o) for o in operand]
            return lambda v: any(e(v) for e in eqs)
        if op == "$eq":
            if isinstance(operand, str) and name in CASELESS:
                operand = operand.lower()
            if timed and isinstance(operand, str):
                instant = _instant(operand)
                if instant is None:
                    raise filter_error(f'Invalid timestamp "{operand}" in filter.')
                return lambda v: _instant(v) == instant
            return lambda v: (operand in v) if isinstance(v, tuple) else v == operand
        if op in ("$contains", "$starts_with", "$ends_with"):
            if not isinstance(operand, str):
                raise filter_error(f"{op} expects a string.")
            if op == "$contains":  # documented as case-insensitive; the other two are not
                return lambda v: isinstance(t := _text(v), str) and operand.lower() in t.lower()
            if op == "$starts_with":
                return lambda v: isinstance(t := _text(v), str) and t.startswith(operand)
            return lambda v: isinstance(t := _text(v), str) and t.endswith(operand)
        # Ordered comparisons: numbers, or timestamps that carry both a date and a time.
        if timed:
            if not isinstance(operand, str) or "T" not in operand:
                raise filter_error(f"{op} on a timestamp needs a date and a time.")
            key: Any = _instant(operand)
            if key is None:
                raise filter_error(f'Invalid timestamp "{operand}" in filter.')
            convert: Callable[[Any], Any] = _instant
        elif isinstance(operand, int | float) and not isinstance(operand, bool):
            key, convert = operand, (lambda v: v if isinstance(v, int | float) else None)
        elif isinstance(operand, str) and attr.type == "date":
            key, convert = operand, (lambda v: v)
        else:
            raise filter_error(f"{op} expects a number, date or timestamp.")
        compare = {
            "$lt": lambda a, b: a < b,
            "$lte": lambda a, b: a <= b,
            "$gt": lambda a, b: a > b,
            "$gte": lambda a, b: a >= b,
        }[op]
        return lambda v: (c := convert(v)) is not None and compare(c, key)

    def _path(self, path: Any, constraints: Any) -> Predicate:
        steps = self._resolve_path(path)
        (_last_c, last_attr) = steps[-1]
        if not isinstance(constraints, dict):
            raise filter_error("A path filter needs a constraints object.")
        test = self._attribute_test(last_attr, constraints)
        return lambda item: any(test(c, it) for c, it in self._walk(steps, item))

    def _resolve_path(self, path: Any) -> list[tuple[Container, Attribute]]:
        if not isinstance(path, list) or not path:
            raise filter_error("A path must be a non-empty array of [object, attribute] pairs.")
        steps: list[tuple[Container, Attribute]] = []
        for i, step in enumerate(path):
            if not (isinstance(step, list) and len(step) == 2):
                raise filter_error("Each path step must be [object or list, attribute].")
            c = self.c if i == 0 else (self.ws.object_by(step[0]) or self.ws.list_by(step[0]))
            if c is None or (i == 0 and step[0] not in (self.c.api_slug, self.c.id)):
                raise filter_error(f'Path step "{step[0]}" does not match the queried data.')
            attr = c.attribute(step[1])
            if attr is None and not (step[1] == "parent_record" and isinstance(c, ListDef)):
                raise filter_error(f'Unknown attribute "{step[1]}" in path.')
            steps.append((c, attr))  # type: ignore[arg-type]
        return steps

    def _walk(
        self, steps: list[tuple[Container, Attribute]], item: Item
    ) -> list[tuple[Container, Item]]:
        current: list[tuple[Container, Item]] = [(steps[0][0], item)]
        for i, (_, attr) in enumerate(steps[:-1]):
            nxt_c = steps[i + 1][0]
            found: list[tuple[Container, Item]] = []
            for c, it in current:
                if attr is None:  # parent_record of a list entry
                    ids = [it.parent_record_id]
                else:
                    ids = [s.get("target_record_id") for s in self.stored(c, attr, it)]
                found += [
                    (nxt_c, self.ws.items[nxt_c.id][r]) for r in ids if r in self.ws.items[nxt_c.id]
                ]
            current = found
        return current

    # --- sorts ------------------------------------------------------------------------------
    def sort(self, items: list[Item], sorts: Any) -> list[Item]:
        if sorts is None:
            return items
        if not isinstance(sorts, list):
            raise filter_error("sorts must be an array.")
        for spec in reversed(sorts):
            if not isinstance(spec, dict) or spec.get("direction") not in ("asc", "desc"):
                raise filter_error('Each sort needs a direction of "asc" or "desc".')
            key = self._sort_key(spec)
            keyed = [(key(it), it) for it in items]
            present = sorted(
                (p for p in keyed if p[0] is not None),
                key=lambda p: p[0],
                reverse=spec["direction"] == "desc",
            )
            items = [it for _, it in present] + [it for k, it in keyed if k is None]
        return items

    def _sort_key(self, spec: dict[str, Any]) -> Callable[[Item], Any]:
        if "path" in spec:
            steps = self._resolve_path(spec["path"])
        elif isinstance(spec.get("attribute"), str):
            attr = self.c.attribute(spec["attribute"])
            if attr is None:
                raise filter_error(f'Cannot sort by unknown attribute "{spec["attribute"]}".')
            steps = [(self.c, attr)]
        else:
            raise filter_error("A sort needs an attribute or a path.")
        _c_last, attr_last = steps[-1]
        field = spec.get("field") or DEFAULT_PROPERTY.get(attr_last.type, "value")

        def key(item: Item) -> Any:
            for c, it in self._walk(steps, item):
                for s in self.stored(c, attr_last, it):
                    v = self.prop(attr_last, s, field)
                    if isinstance(v, tuple):  # select/status sort in option order
                        choices = attr_last.options or attr_last.statuses
                        return next(i for i, o in enumerate(choices) if o.id == v[0])
                    if v is not None:
                        return v.lower() if isinstance(v, str) else v
            return None

        return key


def _text(v: Any) -> Any:
    return v[1] if isinstance(v, tuple) else v


def _instant(v: Any) -> Any:
    parsed = parse_timestamp(v) if isinstance(v, str) else None
    if parsed is None:
        return None
    return (parsed[0], parsed[1])
