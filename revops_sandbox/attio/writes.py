"""Writing values to records and entries: create, assert, PATCH (prepend), PUT (overwrite).

Every write is validated in full, then checked against the unique attributes, and only then
stored, so a rejected write leaves nothing behind.
"""

from __future__ import annotations

from typing import Any, Literal

from revops_sandbox.attio import values as V
from revops_sandbox.attio.addresses import FREE_MAIL_DOMAINS
from revops_sandbox.attio.errors import ApiError, validation, value_not_found, wrong_type
from revops_sandbox.attio.schema import Attribute, Container, ObjectDef
from revops_sandbox.attio.state import Item, Workspace

Mode = Literal["create", "patch", "put", "assert"]
Prepared = dict[str, list[V.Payload]]


class Writer:
    def __init__(
        self,
        ws: Workspace,
        token_id: str,
        *,
        auto_company: bool,
        actor: dict[str, str | None] | None = None,
    ) -> None:
        self.ws = ws
        self.actor: dict[str, str | None] = actor or {"type": "api-token", "id": token_id}
        self.auto_company = auto_company

    # --- validation -----------------------------------------------------------------------
    def prepare(self, c: Container, raw_values: Any, path: list[str | int]) -> Prepared:
        if not isinstance(raw_values, dict):
            raise validation([wrong_type(path, "object", raw_values)])
        out: Prepared = {}
        for key, raw in raw_values.items():
            attr = c.attribute(key)
            if attr is None or attr.is_archived:
                raise value_not_found(f'Cannot find attribute with slug/ID "{key}".')
            if not attr.is_writable:
                # UNCONFIRMED wording; the code is Attio's documented one for system attributes.
                raise ApiError(
                    400,
                    "system_edit_unauthorized",
                    f'Cannot write to the system attribute with slug "{attr.api_slug}".',
                )
            out[attr.id] = V.normalize(attr, raw, self.ws)
        return out

    # --- the four write modes -------------------------------------------------------------
    def create(
        self, c: Container, prepared: Prepared, *, link: bool = False, **parent: str
    ) -> Item:
        for attr in c.active_attributes():
            if attr.is_required and not prepared.get(attr.id):
                raise ApiError(
                    400,
                    "missing_value",
                    f'Required value for attribute with ID "{attr.id}" was not provided.',
                )
        item = Item(self.ws.ids.new(), c.id, self.ws.clock.now(), dict(self.actor), **parent)
        new = {aid: self._stamp(p) for aid, p in prepared.items() if p}
        self._commit(c, item, new, is_new=True, link=link)
        return item

    def update(
        self, c: Container, item: Item, prepared: Prepared, mode: Mode, match: str = ""
    ) -> Item:
        new = {aid: list(vals) for aid, vals in item.values.items()}
        for aid, payloads in prepared.items():
            attr = c.attributes[aid]
            old = item.values.get(aid, [])
            prepend = attr.is_multiselect and (
                mode == "patch" or (mode == "assert" and aid == match)
            )
            new[aid] = self._merge(attr, old, payloads, prepend)
        new = {k: v for k, v in new.items() if v}
        self._commit(c, item, new, is_new=False, link=mode == "assert")
        return item

    def assert_(self, obj: ObjectDef, match: Attribute, prepared: Prepared) -> tuple[Item, bool]:
        wanted = prepared.get(match.id)
        if not wanted:
            # UNCONFIRMED: the spec does not say what an assert without the matching value gets.
            raise ApiError(
                400,
                "missing_value",
                f'Required value for matching attribute with slug "{match.api_slug}" '
                "was not provided.",
            )
        for payload in wanted:
            rid = self.ws.match_unique(obj, match, payload)
            if rid is not None:
                item = self.ws.items[obj.id][rid]
                return self.update(obj, item, prepared, "assert", match.id), False
        return self.create(obj, prepared, link=True), True

    # --- internals ------------------------------------------------------------------------
    def _stamp(self, payloads: list[V.Payload]) -> list[V.Payload]:
        now = self.ws.clock.now()
        return [{"active_from": now, "created_by_actor": dict(self.actor), **p} for p in payloads]

    def _merge(
        self, attr: Attribute, old: list[V.Payload], payloads: list[V.Payload], prepend: bool
    ) -> list[V.Payload]:
        """Keep the stored value (and its active_from) wherever the same value is written again."""
        by_key = {V.identity(attr, self._bare(s)): s for s in old}
        kept = [by_key.get(V.identity(attr, p)) for p in payloads]
        fresh = [
            s if s is not None and self._bare(s) == p else self._stamp([p])[0]
            for s, p in zip(kept, payloads, strict=True)
        ]
        if not prepend:
            return fresh
        # PATCH: new values go to the front in the order sent; present values never move.
        new_keys = {V.identity(attr, p) for p, s in zip(payloads, kept, strict=True) if s is None}
        return [s for s in fresh if V.identity(attr, self._bare(s)) in new_keys] + old

    @staticmethod
    def _bare(stored: V.Payload) -> V.Payload:
        return {k: v for k, v in stored.items() if k not in ("active_from", "created_by_actor")}

    def _unique_claims(self, c: Container, values: Prepared) -> list[tuple[Attribute, V.Payload]]:
        out = []
        for aid, stored in values.items():
            attr = c.attributes[aid]
            if attr.is_unique:
                out += [(attr, self._bare(s)) for s in stored]
        return out

    def _commit(self, c: Container, item: Item, new: Prepared, *, is_new: bool, link: bool) -> None:
        for attr, payload in self._unique_claims(c, new):
            holder = self.ws.match_unique(c, attr, payload)
            if holder is not None and holder != item.id:
                raise ApiError(
                    400,
                    "uniqueness_conflict",
                    f'The value "{V.unique_key(attr, payload)}" provided for attribute with ID '
                    f'"{attr.id}" conflicts with one already in the system.',
                )
        if link and self.auto_company and c.api_slug == "people" and isinstance(c, ObjectDef):
            self._link_company(c, new)
        for attr, payload in self._unique_claims(c, item.values):
            self.ws.unique.pop((attr.id, V.identity(attr, payload)), None)
        for attr, payload in self._unique_claims(c, new):
            self.ws.unique[(attr.id, V.identity(attr, payload))] = item.id
        old = item.values
        item.values = new
        if is_new:
            self.ws.items[c.id][item.id] = item
        if isinstance(c, ObjectDef):
            self._log_events(c, item, old, new, is_new)
        else:
            self._log_entry_events(c, item, old, new, is_new)
        for aid, attr in c.attributes.items():
            if attr.relationship_id and (old.get(aid) or new.get(aid)):
                self._sync_inverse(attr, item, old.get(aid, []), new.get(aid, []))

    def _log_events(
        self, obj: ObjectDef, item: Item, old: Prepared, new: Prepared, is_new: bool
    ) -> None:
        """What Attio's webhooks would send: `record.created`, or one `record.updated` per
        attribute whose values changed (a value written again unchanged sends nothing)."""
        ids = {"workspace_id": self.ws.workspace_id, "object_id": obj.id, "record_id": item.id}
        actor = dict(self.actor)
        if is_new:
            self.ws.events.append({"event_type": "record.created", "id": ids, "actor": actor})
            return

        def bare(stored: list[V.Payload]) -> list[V.Payload]:
            return [self._bare(s) for s in stored]

        for aid in [*new, *(a for a in old if a not in new)]:
            if bare(old.get(aid, [])) != bare(new.get(aid, [])):
                self.ws.events.append(
                    {
                        "event_type": "record.updated",
                        "id": {**ids, "attribute_id": aid},
                        "actor": actor,
                    }
                )

    def _log_entry_events(
        self, lst: Container, item: Item, old: Prepared, new: Prepared, is_new: bool
    ) -> None:
        """`list-entry.created`, or one `list-entry.updated` per changed list attribute (with
        `id.attribute_id`): ids only, plus the parent, as Attio's list-entry event pages show
        (shared/reference integrations.md §4.3)."""
        ids = {"workspace_id": self.ws.workspace_id, "list_id": lst.id, "entry_id": item.id}
        parent = {
            "parent_object_id": item.parent_object_id,
            "parent_record_id": item.parent_record_id,
        }
        actor = dict(self.actor)
        if is_new:
            self.ws.events.append(
                {"event_type": "list-entry.created", "id": ids, **parent, "actor": actor}
            )
            return
        for aid in [*new, *(a for a in old if a not in new)]:
            before = [self._bare(s) for s in old.get(aid, [])]
            if before != [self._bare(s) for s in new.get(aid, [])]:
                self.ws.events.append(
                    {
                        "event_type": "list-entry.updated",
                        "id": {**ids, "attribute_id": aid},
                        **parent,
                        "actor": actor,
                    }
                )

    def _link_company(self, people: ObjectDef, new: Prepared) -> None:
        """Attio links a new person to the company of their email's domain, creating it."""
        company_attr = people.attribute("company")
        emails_attr = people.attribute("email_addresses")
        if company_attr is None or emails_attr is None or new.get(company_attr.id):
            return
        companies = self.ws.object_by("companies")
        domains = companies.attribute("domains") if companies else None
        if companies is None or domains is None:
            return
        for email in new.get(emails_attr.id, []):
            if email["email_domain"] in FREE_MAIL_DOMAINS:
                continue
            candidates = [email["email_domain"], email["email_root_domain"]]
            rid = next(
                (
                    r
                    for d in candidates
                    if (r := self.ws.match_unique(companies, domains, {"domain": d}))
                ),
                None,
            )
            if rid is None:
                root = email["email_root_domain"]
                payload = {"domain": root, "root_domain": root}
                rid = self.create(companies, {domains.id: [payload]}).id
            new[company_attr.id] = self._stamp(
                [{"target_object": "companies", "target_record_id": rid}]
            )
            return

    def _sync_inverse(
        self, attr: Attribute, item: Item, old: list[V.Payload], new: list[V.Payload]
    ) -> None:
        """Keep both sides of a relationship (people.company <-> companies.team) in step."""
        inverse = self.ws.attribute_by_id(attr.relationship_id or "")
        if inverse is None:
            return
        own = self.ws.container(item.container_id)
        before = {s["target_record_id"] for s in old}
        after = {s["target_record_id"] for s in new}
        target_items = self.ws.items[inverse.parent_id]
        ref = {"target_object": own.api_slug, "target_record_id": item.id}
        for rid in before - after:
            if rid in target_items:
                t = target_items[rid]
                kept = [s for s in t.values.get(inverse.id, []) if s["target_record_id"] != item.id]
                self._set(t, inverse.id, kept)
        for rid in after - before:
            t = target_items.get(rid)
            if t is None:
                continue
            current = t.values.get(inverse.id, [])
            if not inverse.is_multiselect:
                for s in current:  # the target leaves its previous holder
                    holder = self.ws.items[attr.parent_id].get(s["target_record_id"])
                    if holder is not None and holder.id != item.id:
                        rest = [
                            x
                            for x in holder.values.get(attr.id, [])
                            if x["target_record_id"] != rid
                        ]
                        self._set(holder, attr.id, rest)
                current = []
            self._set(t, inverse.id, [*current, *self._stamp([ref])])

    @staticmethod
    def _set(item: Item, attribute_id: str, stored: list[V.Payload]) -> None:
        if stored:
            item.values[attribute_id] = stored
        else:
            item.values.pop(attribute_id, None)

    def delete(self, c: Container, item: Item) -> None:
        """Remove the item, its unique claims, references to it, and (for records) its entries."""
        for attr, payload in self._unique_claims(c, item.values):
            self.ws.unique.pop((attr.id, V.identity(attr, payload)), None)
        del self.ws.items[c.id][item.id]
        ids = {"workspace_id": self.ws.workspace_id}
        if isinstance(c, ObjectDef):
            ids |= {"object_id": c.id, "record_id": item.id}
            self.ws.events.append({"event_type": "record.deleted", "id": ids, "actor": self.actor})
        else:
            ids |= {"list_id": c.id, "entry_id": item.id}
            parent = {
                "parent_object_id": item.parent_object_id,
                "parent_record_id": item.parent_record_id,
            }
            self.ws.events.append(
                {"event_type": "list-entry.deleted", "id": ids, **parent, "actor": self.actor}
            )
        for cid, items in self.ws.items.items():
            other = self.ws.container(cid)
            for it in list(items.values()):
                if it.parent_record_id == item.id:
                    self.delete(other, it)
                    continue
                for aid, attr in other.attributes.items():
                    if attr.type == "record-reference" and aid in it.values:
                        kept = [s for s in it.values[aid] if s["target_record_id"] != item.id]
                        self._set(it, aid, kept)
