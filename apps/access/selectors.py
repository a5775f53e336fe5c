"""The one way to read governed records: ``readable``.

Every read path (search, an entity, neighbourhoods, graph nodes, live updates, exports, admin
querysets and pages, the decision center) asks

    reader = readable(subject=subject, action="search", queryset=Entity.objects.filter(...))
    rows = reader.queryset.order_by(...)[:50]     # narrowed in SQL: count, order and paginate this
    page = reader.page(rows)                      # decided, redacted and audited in one shape

``reader.queryset`` is a superset of what the policy shows (never a row it would show is dropped),
narrowed by tenant membership, clearance, compartments and object grants; for actions that do not
mask it is exactly the visible set, so paginated lists count correctly. ``reader.page`` asks the Rego
policy once for the whole page and says, by what the page ``shows``:

* ``"attributes"`` (the default; entity pages, search hits, the decision center, admin pages): field
  redactions, plus attributes that repeat a linked record the subject may not see; denials and
  redactions are audited as one ``access.denied`` event, and values a declared purpose unlocked as
  ``access.purpose_unlocked``.
* ``"names"`` (canvases and lists that show records only by name): field redactions, so names built
  from a withheld value are withheld too; purpose-unlocked names are audited.
* ``"visibility"`` (which ids may appear at all: stubs, live updates, export scope): visibility only,
  no field decisions, nothing audited (nothing beyond an id and a kind is shown).
* ``"nothing"`` (probes and explanations that show no record): field redactions, nothing audited.

The decision engine is ``apps.access.decisions``, private to apps.access (the layer check refuses an
import of it from anywhere else).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.db.models import QuerySet

from apps.access import bundle as policy
from apps.access import decisions as engine
from apps.access.decisions import (
    ACTIONS,
    NOT_VISIBLE_LABEL,
    WITHHELD_MARK,
    Decision,
    RedactedEntity,
)
from apps.access.services import Subject, purpose_validate
from apps.audit import services as audit
from apps.core.models import Entity, Relationship

__all__ = [
    "ACTIONS",
    "NOT_VISIBLE_LABEL",
    "SHOWS",
    "WITHHELD_MARK",
    "Decision",
    "Page",
    "Readable",
    "RedactedEntity",
    "display_names",
    "entity_read",
    "explain",
    "readable",
]

SHOWS = ("attributes", "names", "visibility", "nothing")


@dataclass(frozen=True)
class Page:
    """A decided page: the rows in the order given, each with its decision."""

    rows: list
    decisions: dict

    def __getitem__(self, pk) -> Decision:
        return self.decisions[pk]

    def visibility(self, row) -> str:
        return self.decisions[row.pk].visibility

    @cached_property
    def shown(self) -> list:
        """Rows the subject may see at least as a stub (visible or masked), in order."""
        return [row for row in self.rows if self.decisions[row.pk].visibility != "hidden"]

    @cached_property
    def visible(self) -> list:
        """Rows the subject may see in full (with their field redactions), in order."""
        return [row for row in self.rows if self.decisions[row.pk].visibility == "visible"]

    @property
    def hidden(self) -> int:
        return len(self.rows) - len(self.shown)

    def redacted(self, entity: Entity) -> RedactedEntity:
        """What may be shown of this entity (its attributes without withheld ones, its name as allowed)."""
        return RedactedEntity(entity, self.decisions[entity.pk])

    @cached_property
    def entities(self) -> list[RedactedEntity]:
        """The entities shown (visible or masked stubs), redacted, in order."""
        return [self.redacted(row) for row in self.shown if isinstance(row, Entity)]

    def name(self, entity: Entity) -> str:
        """The name this subject may see: NOT_VISIBLE_LABEL for a hidden record, a stub's kind for a
        masked one, the name with withheld parts marked for a visible one."""
        if self.decisions[entity.pk].visibility == "hidden":
            return NOT_VISIBLE_LABEL
        return self.redacted(entity).display_name


class Readable:
    """What one subject may read for one action: the SQL narrowing, and the policy for pages of rows."""

    def __init__(self, *, subject: Subject, action: str, queryset: QuerySet | None = None) -> None:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        if queryset is not None and queryset.model not in (Entity, Relationship):
            raise TypeError(f"readable() governs entities and relationships, not {queryset.model.__name__}")
        self.subject = subject
        self.action = action
        self._queryset = queryset

    @cached_property
    def queryset(self) -> QuerySet:
        """The given queryset (all entities by default) narrowed in SQL to what may reach the policy."""
        queryset = Entity.objects.all() if self._queryset is None else self._queryset
        narrow = engine.narrow_relationships if queryset.model is Relationship else engine.narrow_entities
        return narrow(subject=self.subject, action=self.action, queryset=queryset)

    def page(self, rows=None, *, shows: str = "attributes", links=()) -> Page:
        """Decide a page of entities and/or relationships (``rows``; by default the narrowed queryset).

        ``links``: (entity id, entity id) pairs the caller knows to be linked beyond today's rows (a merge's
        snapshot), for the linked-record check of ``shows="attributes"``."""
        if shows not in SHOWS:
            raise ValueError(f"unknown shows {shows!r}; one of {', '.join(SHOWS)}")
        rows = list(self.queryset if rows is None else rows)
        subject, action = self.subject, self.action
        fields = shows != "visibility"
        decided = engine.decide(
            subject=subject, resources=rows, action=action, fields=fields, shows="nothing" if not fields else shows
        )
        if shows == "attributes":
            entities = [row for row in rows if isinstance(row, Entity)]
            decided = engine.with_linked_redactions(
                subject=subject, entities=entities, decisions=decided, action=action, links=links
            )
            engine.audit_denials(subject=subject, action=action, entities=entities, decisions=decided)
        return Page(rows=rows, decisions=decided)

    def ids(self, ids) -> list:
        """Those of ``ids`` that are entities the subject may at least see as a stub, in the given order:
        for fields that name other records by id (merged into, merged members, watched ids)."""
        ids = [i for i in ids if i is not None]
        if not ids:
            return []
        # Only what the visibility rules read (policies/abac.rego): no attributes, no names.
        rows = self.queryset.filter(pk__in=ids).only("id", "tenant_id", "kind", "sensitivity", "labels")
        shown = {row.pk for row in self.page(rows, shows="visibility").shown}
        return [i for i in ids if i in shown]


def readable(*, subject: Subject, action: str, queryset: QuerySet | None = None) -> Readable:
    """The one authorization entry point for reads (see the module docstring)."""
    return Readable(subject=subject, action=action, queryset=queryset)


def entity_read(*, subject: Subject, entity_id) -> RedactedEntity | None:
    """One entity for the read action, or None when it does not exist or the policy hides it."""
    reader = readable(subject=subject, action="read")
    entity = reader.queryset.filter(pk=entity_id).select_related("tenant").first()
    if entity is None:
        # Hidden and unknown ids take one path (one lookup, one audit event), so neither the answer nor its
        # timing tells an id of another tenant, or above clearance, from a random one.
        found = Entity.objects.filter(pk=entity_id).values("tenant_id").first()
        tenant_id = found["tenant_id"] if found else None
        audit.record(
            "access.denied",
            actor=subject.user,
            tenant=tenant_id if tenant_id in subject.memberships else None,
            target_type="core.entity",
            target_id=str(entity_id),
            payload={
                "action": "read",
                "reason": "NOT_VISIBLE" if found else "NOT_FOUND",
                "bundle": policy.current_bundle().sha256,
            },
        )
        return None
    purpose_validate(subject=subject, tenant_id=entity.tenant_id)
    page = reader.page([entity])
    return page.entities[0] if page.entities else None


def display_names(*, subject: Subject, entities: list, action: str = "read") -> dict:
    """What this subject may see as the name of each entity, by primary key: one policy call per page.

    For pages that show entities only by name (relationships, provenance, candidate pairs, merges):
    hidden entities are NOT_VISIBLE_LABEL, masked ones a stub, visible ones with withheld parts marked.
    """
    entities = [e for e in entities if e is not None]
    if not entities:
        return {}
    page = readable(subject=subject, action=action).page(entities, shows="names")
    return {entity.pk: page.name(entity) for entity in entities}


def explain(*, subject: Subject, entity: Entity, action: str = "read") -> Decision:
    """The decision for one entity with the rule that made it and what would grant access (no audit)."""
    return readable(subject=subject, action=action).page([entity], shows="nothing")[entity.pk]
