"""The in-memory workspace: schema, records, list entries, notes, tasks, and their read shapes.

Every method runs synchronously under the sandbox's lock (the ASGI handlers never await while
holding it), so the event loop and the test thread see one consistent workspace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from revops_sandbox.attio import values as V
from revops_sandbox.attio.errors import Clock, IdSource, not_found
from revops_sandbox.attio.schema import (
    Attribute,
    Container,
    ListDef,
    Member,
    ObjectDef,
    SchemaKind,
    build_schema,
)

WORKSPACE_SLUG = "revops-sandbox"


@dataclass
class Item:
    """A record (in an object) or an entry (in a list)."""

    id: str
    container_id: str
    created_at: str
    created_by: dict[str, str | None]
    values: dict[str, list[V.Payload]] = field(default_factory=dict)
    parent_object_id: str | None = None
    parent_record_id: str | None = None


class Workspace:
    def __init__(self, schema: SchemaKind, seed: int) -> None:
        self.ids = IdSource(seed)
        self.clock = Clock()
        self.workspace_id = self.ids.new()
        built = build_schema(schema, self.ids, self.clock)
        # The schema and members keep their seeded ids across resets; records, entries, notes and
        # tasks never reuse an id, so a client's stale id map cannot hit a newer record by chance.
        self.ids = IdSource(None)
        self.objects: dict[str, ObjectDef] = built.objects
        self.lists: dict[str, ListDef] = built.lists
        self.members: dict[str, Member] = built.members
        self.items: dict[str, dict[str, Item]] = {c: {} for c in (*self.objects, *self.lists)}
        self.unique: dict[tuple[str, str], str] = {}
        self.notes: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, dict[str, Any]] = {}
        # The webhook events record writes would send, in order (`AttioSandbox.webhook_events`).
        self.events: list[dict[str, Any]] = []

    # --- schema lookups -------------------------------------------------------------------
    def object_by(self, slug_or_id: str) -> ObjectDef | None:
        if slug_or_id in self.objects:
            return self.objects[slug_or_id]
        return next((o for o in self.objects.values() if o.api_slug == slug_or_id), None)

    def list_by(self, slug_or_id: str) -> ListDef | None:
        if slug_or_id in self.lists:
            return self.lists[slug_or_id]
        return next((x for x in self.lists.values() if x.api_slug == slug_or_id), None)

    def get_object(self, slug_or_id: str) -> ObjectDef:
        obj = self.object_by(slug_or_id)
        if obj is None:
            raise not_found(f'Object with slug/ID "{slug_or_id}" not found.')
        return obj

    def get_list(self, slug_or_id: str) -> ListDef:
        lst = self.list_by(slug_or_id)
        if lst is None:
            raise not_found(f'Could not find list with slug/ID "{slug_or_id}".')
        return lst

    def container(self, container_id: str) -> Container:
        return self.objects.get(container_id) or self.lists[container_id]

    def attribute_by_id(self, attribute_id: str) -> Attribute | None:
        for c in (*self.objects.values(), *self.lists.values()):
            if attribute_id in c.attributes:
                return c.attributes[attribute_id]
        return None

    def member_by(self, id_or_email: str) -> Member | None:
        if id_or_email in self.members:
            return self.members[id_or_email]
        wanted = id_or_email.lower()
        return next((m for m in self.members.values() if m.email_address == wanted), None)

    # --- items ----------------------------------------------------------------------------
    def record_exists(self, object_id: str, record_id: str) -> bool:
        return record_id in self.items.get(object_id, {})

    def get_record(self, obj: ObjectDef, record_id: str) -> Item:
        item = self.items[obj.id].get(record_id)
        if item is None:
            raise not_found(f'Record with ID "{record_id}" not found.')
        return item

    def get_entry(self, lst: ListDef, entry_id: str) -> Item:
        item = self.items[lst.id].get(entry_id)
        if item is None:
            raise not_found(f'Entry with ID "{entry_id}" not found.')
        return item

    def match_unique(self, obj: Container, attr: Attribute, payload: V.Payload) -> str | None:
        return self.unique.get((attr.id, V.identity(attr, payload)))

    def records_of(self, obj: Container) -> list[Item]:
        return list(self.items[obj.id].values())

    # --- read shapes ----------------------------------------------------------------------
    def _system_values(self, c: Container, item: Item) -> dict[str, V.Payload]:
        envelope = {
            "active_from": item.created_at,
            "created_by_actor": {"type": "system", "id": None},
        }
        return {
            "record_id": {**envelope, "value": item.id},
            "entry_id": {**envelope, "value": item.id},
            "created_at": {**envelope, "value": item.created_at},
            "created_by": {
                **envelope,
                "referenced_actor_type": item.created_by["type"],
                "referenced_actor_id": item.created_by["id"],
            },
        }

    def values_shape(self, c: Container, item: Item) -> dict[str, list[V.Payload]]:
        # UNCONFIRMED whether empty attributes are listed; every slug is present (as []), so a
        # client must cope with empty arrays rather than rely on missing keys.
        system = self._system_values(c, item)
        out: dict[str, list[V.Payload]] = {}
        for a in c.active_attributes():
            stored = (
                [system[a.api_slug]]
                if a.is_system and a.api_slug in system and not a.is_writable
                else item.values.get(a.id, [])
            )
            out[a.api_slug] = [V.read_shape(a, s, self.workspace_id) for s in stored]
        return out

    def record_shape(self, obj: ObjectDef, item: Item) -> dict[str, Any]:
        return {
            "id": {"workspace_id": self.workspace_id, "object_id": obj.id, "record_id": item.id},
            "created_at": item.created_at,
            "web_url": f"https://app.attio.com/{WORKSPACE_SLUG}/{obj.singular_noun.lower()}/{item.id}",
            "values": self.values_shape(obj, item),
        }

    def entry_shape(self, lst: ListDef, item: Item) -> dict[str, Any]:
        parent = self.objects[item.parent_object_id or ""]
        return {
            "id": {"workspace_id": self.workspace_id, "list_id": lst.id, "entry_id": item.id},
            "parent_record_id": item.parent_record_id,
            "parent_object": parent.api_slug,
            "created_at": item.created_at,
            "entry_values": self.values_shape(lst, item),
        }

    def member_shape(self, m: Member) -> dict[str, Any]:
        return {
            "id": {"workspace_id": self.workspace_id, "workspace_member_id": m.id},
            "first_name": m.first_name,
            "last_name": m.last_name,
            "avatar_url": None,
            "email_address": m.email_address,
            "access_level": m.access_level,
            "created_at": m.created_at,
        }

    def record_counts(self) -> dict[str, int]:
        return {o.api_slug: len(self.items[o.id]) for o in self.objects.values()}
