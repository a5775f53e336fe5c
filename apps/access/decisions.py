"""The decision engine behind ``apps.access.selectors.readable``: internal to apps.access.

Read paths never call this module; they ask ``readable(subject=..., action=..., queryset=...)``, which
narrows in SQL, decides, redacts and audits in one shape (the layer check forbids importing this module
from outside apps.access). What it does:

1. ``narrow_entities`` / ``narrow_relationships`` narrow a queryset in SQL by what the policy allows
   without looking at rows one by one: the subject's tenants, clearance (plus the masking gap for
   actions that show stubs), compartments (for actions that do not mask) and object grants.
2. ``decide`` asks the Rego policy once per page. Rows are reduced to decision classes (rows that agree
   on every property the visibility rules read) and field rules are decided once per tenant and governed
   field, so a page of 50 costs one evaluation of a handful of classes and fields, not 50 rows.
3. ``with_linked_redactions`` withholds attributes that repeat a linked record the subject may not see;
   ``name_without_withheld`` keeps withheld values out of derived names.

Redacted values never leave apps.access: callers get ``RedactedEntity`` objects whose ``attributes``
already lack the redacted fields.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import Counter, OrderedDict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Cast
from guardian.models import GroupObjectPermission, UserObjectPermission

from apps.access import bundle as policy
from apps.access.errors import PolicyEvaluationError
from apps.access.models import PolicyBundleVersion, TenantPurpose
from apps.audit import services as audit
from apps.core.choices import Role, Sensitivity
from apps.core.models import Entity, Relationship

if TYPE_CHECKING:
    from apps.access.services import Subject

ACTIONS = ("read", "search", "expand", "export", "merge", "rollback", "admin-change")
VIEW_PERMISSION = "view_entity"

REASON_TEXT = {
    "TENANT": "belongs to a tenant you are not a member of",
    "CLEARANCE": "is above your clearance",
    "COMPARTMENT": "carries a compartment you are not granted",
    "EDGE_ROLE": "is a relationship kind your role may not see",
    "FIELD_CLEARANCE": "needs a higher clearance",
    "FIELD_ROLE": "needs a higher role",
    "PURPOSE_REQUIRED": "needs a declared investigative purpose",
    "POLICY_ERROR": "could not be decided (the policy engine failed; access is denied)",
    "LINKED_RECORD": "repeats a linked record you may not see",
    "OPERATION_SCOPE": "is not what this persisted operation was declared to read",
}


def active_purposes(tenant_ids) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {str(t): [] for t in tenant_ids}
    rows = TenantPurpose.objects.filter(tenant_id__in=[int(t) for t in tenant_ids], is_active=True)
    for tenant_id, code in rows.order_by("tenant_id", "code").values_list("tenant_id", "code"):
        found[str(tenant_id)].append(code)
    return found


# --------------------------------------------------------------------------- SQL narrowing


def _granted_exists(*, user):
    content_type = ContentType.objects.get_for_model(Entity)
    as_text = Cast(OuterRef("pk"), CharField())
    common = {"content_type": content_type, "permission__codename": VIEW_PERMISSION, "object_pk": as_text}
    return Exists(UserObjectPermission.objects.filter(user=user, **common)) | Exists(
        GroupObjectPermission.objects.filter(group__user=user, **common)
    )


def has_any_grant(*, user) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    content_type = ContentType.objects.get_for_model(Entity)
    common = {"content_type": content_type, "permission__codename": VIEW_PERMISSION}
    return (
        UserObjectPermission.objects.filter(user=user, **common).exists()
        or GroupObjectPermission.objects.filter(group__user=user, **common).exists()
    )


def _granted_ids_among(*, user, ids) -> set[str]:
    """Which of these entity ids the user holds view_entity on (directly or by group): one query."""
    if not ids or not getattr(user, "is_authenticated", False):
        return set()
    content_type = ContentType.objects.get_for_model(Entity)
    wanted = [str(i) for i in ids]
    common = {"content_type": content_type, "permission__codename": VIEW_PERMISSION, "object_pk__in": wanted}
    direct = UserObjectPermission.objects.filter(user=user, **common).values_list("object_pk", flat=True)
    by_group = GroupObjectPermission.objects.filter(group__user=user, **common).values_list("object_pk", flat=True)
    return set(direct.union(by_group))


def narrow_entities(*, subject: Subject, action: str, queryset: QuerySet | None = None) -> QuerySet[Entity]:
    """Entities that may reach the policy for this action: the SQL half of the decision.

    A superset of what the policy shows (never a row it would show is dropped here), narrowed by
    tenant membership, clearance (plus the masking gap for actions that show masked stubs) and,
    for actions that do not mask, missing compartments; object grants add their records back.
    For non-masking actions on entities this is exactly the visible set, so paginated lists
    (admin changelists, search) count correctly. The policy then decides the page in ``decide``.
    """
    queryset = Entity.objects.all() if queryset is None else queryset
    if not subject.memberships:
        return queryset.none()
    bundle = policy.current_bundle()
    masking = action in bundle.data["masking_actions"]
    gap = bundle.data["mask_gap"] if masking else 0
    condition = Q()
    for tenant_id, membership in subject.memberships.items():
        term = Q(tenant_id=tenant_id, sensitivity__lte=membership.clearance + gap)
        missing = sorted(bundle.compartments.difference(membership.compartments))
        if missing and not masking:
            # Without masking, a record in a compartment the member lacks is hidden: drop it in SQL.
            term &= ~Q(labels__overlap=missing)
        condition |= term
    # Each row carries its grant, so deciding the page needs no second query for it.
    queryset = queryset.annotate(ig_granted=_granted_exists(user=subject.user))
    return queryset.filter(condition | Q(tenant_id__in=subject.tenant_ids, ig_granted=True))


def narrow_relationships(*, subject: Subject, action: str, queryset: QuerySet | None = None) -> QuerySet:
    """Relationships that may reach the policy for this action: the edge within clearance (plus the
    masking gap) in one of the subject's tenants, and both its ends in ``entities_readable``. For actions
    that do not mask, kinds the policy's edge rules refuse the member are dropped too (asked of the
    policy, one probe per tenant and governed kind), so lists count exactly."""
    queryset = Relationship.objects.all() if queryset is None else queryset
    if not subject.memberships:
        return queryset.none()
    bundle = policy.current_bundle()
    masking = action in bundle.data["masking_actions"]
    gap = bundle.data["mask_gap"] if masking else 0
    refused = {} if masking else _edge_kinds_refused(subject=subject, action=action)
    condition = Q()
    for tenant_id, membership in subject.memberships.items():
        term = Q(tenant_id=tenant_id, sensitivity__lte=membership.clearance + gap)
        if refused.get(tenant_id):
            term &= ~Q(kind__in=sorted(refused[tenant_id]))
        condition |= term
    ends = narrow_entities(subject=subject, action=action).values("pk")
    return queryset.filter(condition, from_entity__in=ends, to_entity__in=ends)


def _edge_kinds_refused(*, subject: Subject, action: str) -> dict[int, set[str]]:
    """Per tenant, the relationship kinds with an edge rule that the policy refuses this member."""
    kinds = sorted(policy.current_bundle().data.get("edge_rules") or {})
    if not kinds:
        return {}
    probes = [
        Relationship(pk=uuid.uuid4(), tenant_id=tenant_id, kind=kind, sensitivity=0)
        for tenant_id in subject.memberships
        for kind in kinds
    ]
    decisions = decide(subject=subject, resources=probes, action=action, shows="nothing")
    refused: dict[int, set[str]] = {}
    for probe in probes:
        if decisions[probe.pk].visibility != "visible":
            refused.setdefault(probe.tenant_id, set()).add(probe.kind)
    return refused


# --------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class Redaction:
    field: str
    reason: str
    rule: str
    needs: dict

    @property
    def explanation(self) -> str:
        return f"{self.field} {REASON_TEXT.get(self.reason, self.reason)}; {needs_text(self.needs)}"


@dataclass(frozen=True)
class Decision:
    visibility: str  # visible | masked | hidden
    reason: str
    rule: str
    needs: dict
    redactions: dict[str, Redaction] = field(default_factory=dict)
    bundle: str = ""  # SHA-256 of the policy bundle that decided

    @property
    def explanation(self) -> str:
        if self.visibility == "visible":
            return "visible"
        return f"this record {REASON_TEXT.get(self.reason, self.reason)}; {needs_text(self.needs)}"


DENY_ON_ERROR = Decision("hidden", "POLICY_ERROR", "engine.fail_closed", {})


def needs_text(needs: dict) -> str:
    parts = []
    if "clearance" in needs:
        parts.append(f"clearance {Sensitivity(needs['clearance']).label.lower()} or higher")
    if "role" in needs:
        parts.append(f"role {Role(needs['role']).label.lower()} or higher")
    if needs.get("compartments"):
        parts.append(f"a grant of compartment {', '.join(needs['compartments'])}")
    if needs.get("purpose"):
        parts.append(f"a declared purpose of {' or '.join(needs['purpose'])}")
    if needs.get("grant"):
        parts.append("an object grant on this record")
    return "access would need " + " or ".join(parts) if parts else "no grant would change this"


def decision_class(resource, *, granted: bool, compartments: frozenset) -> tuple:
    """The properties of a row the visibility rules read (see the header of policies/abac.rego)."""
    is_edge = isinstance(resource, Relationship)
    labels = () if is_edge else tuple(sorted(compartments.intersection(resource.labels or ())))
    return (
        "relationship" if is_edge else "entity",
        str(resource.tenant_id),
        resource.kind if is_edge else "",
        int(resource.sensitivity),
        labels,
        granted,
    )


def _fields_by_tenant(pairs) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for tenant, name in pairs:
        grouped.setdefault(tenant, []).append(name)
    return grouped


class _DecisionCache:
    """Policy decisions are a pure function of (bundle, action, subject document, class or field).

    Keyed on all of these, a cached answer can never be stale: a new bundle, a changed membership,
    clearance, compartment or purpose, or a new grant (part of the class) makes a new key. Bounded LRU.
    """

    def __init__(self, size: int = 20_000) -> None:
        from collections import OrderedDict

        self._items: OrderedDict = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get_many(self, scope, classes, fields):
        found_classes, found_fields = {}, {}
        with self._lock:
            for key in classes:
                if (hit := self._items.get((scope, "c", key), _MISSING)) is not _MISSING:
                    found_classes[key] = hit
            for key in fields:
                if (hit := self._items.get((scope, "f", key), _MISSING)) is not _MISSING:
                    found_fields[key] = hit
        return found_classes, found_fields

    def put_many(self, scope, classes, fields) -> None:
        with self._lock:
            for key, value in classes.items():
                self._items[(scope, "c", key)] = value
            for key, value in fields.items():
                self._items[(scope, "f", key)] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_MISSING = object()
decision_cache = _DecisionCache()


def decide(*, subject: Subject, resources: list, action: str, fields: bool = True, shows: str = "attributes") -> dict:
    """Decisions for a page of entities and/or relationships, keyed by primary key. One policy call.

    ``fields=False`` skips field redactions, for callers that show no attributes (graph canvases);
    their entities may then be loaded without ``attributes``. Purpose-bound values a declared purpose
    unlocks are audited (``access.purpose_unlocked``) where the page shows them: ``shows="attributes"``
    (the default) for pages that show attributes, ``"names"`` for pages that show only names (audited
    when a name holds such a value), ``"nothing"`` for callers that show neither (explain, probes).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if not resources:
        return {}
    if subject.operation_actions is not None and action not in subject.operation_actions:
        # A persisted operation reads only what its safelist tags declare (policies/operations.rego).
        audit_policy_error(
            subject=subject,
            action=action,
            tenant_id=None,
            error=f"action {action!r} is outside the operation's tags {sorted(subject.operation_actions)}",
        )
        refused = Decision("hidden", "OPERATION_SCOPE", "operations.tags", {})
        return {resource.pk: refused for resource in resources}
    bundle = policy.current_bundle()
    bundle_record_if_new()
    # Rows from entities_readable carry their grant; others are looked up in one query.
    unknown = [r.pk for r in resources if isinstance(r, Entity) and not hasattr(r, "ig_granted")]
    looked_up = _granted_ids_among(user=subject.user, ids=unknown) if unknown and subject.has_object_grants else set()
    compartments, governed = bundle.compartments, bundle.governed_fields
    classes: dict[tuple, str] = {}
    row_class = {}
    page_fields = set()
    for resource in resources:
        pk = resource.pk
        granted = resource.ig_granted if hasattr(resource, "ig_granted") else str(pk) in looked_up
        key = decision_class(resource, granted=bool(granted), compartments=compartments)
        row_class[pk] = classes.setdefault(key, f"c{len(classes)}")
        if fields and key[0] == "entity" and resource.attributes:
            tenant = key[1]
            page_fields.update((tenant, name) for name in governed.intersection(resource.attributes))
    subject_doc = subject.as_policy_input()
    # A declared purpose unlocks purpose-bound fields only where the tenant has it active.
    purposes = active_purposes({t for t, _ in page_fields}) if subject.purpose and page_fields else {}
    cache_scope = (bundle.sha256, action, json.dumps(subject_doc, sort_keys=True), json.dumps(purposes, sort_keys=True))
    cached_classes, cached_fields = decision_cache.get_many(cache_scope, classes, page_fields)
    todo_classes = {k: cid for k, cid in classes.items() if k not in cached_classes}
    todo_fields = sorted(f for f in page_fields if f not in cached_fields)
    by_class = {classes[k]: v for k, v in cached_classes.items()}
    withheld: dict[str, dict] = {}
    for (tenant, name), value in cached_fields.items():
        if value is not None:
            withheld.setdefault(tenant, {})[name] = value
    if todo_classes or todo_fields:
        document = {
            "action": action,
            "subject": subject_doc,
            "resources": [
                {
                    "id": cid,
                    "type": k[0],
                    "tenant": k[1],
                    "kind": k[2],
                    "sensitivity": k[3],
                    "labels": list(k[4]),
                    "granted": k[5],
                }
                for k, cid in todo_classes.items()
            ],
            "fields": _fields_by_tenant(todo_fields),
            "tenant_purposes": purposes,
        }
        try:
            raw = policy.evaluate("abac", document)
            fresh_classes = {k: raw["decisions"][cid] for k, cid in todo_classes.items()}
            fresh_fields = {(t, n): (raw["fields"].get(t) or {}).get(n) for t, n in todo_fields}
        except (PolicyEvaluationError, KeyError, TypeError, AttributeError) as exc:
            audit_policy_error(subject=subject, action=action, tenant_id=None, error=exc)
            return {resource.pk: DENY_ON_ERROR for resource in resources}
        decision_cache.put_many(cache_scope, fresh_classes, fresh_fields)
        by_class.update({classes[k]: v for k, v in fresh_classes.items()})
        for (tenant, name), value in fresh_fields.items():
            if value is not None:
                withheld.setdefault(tenant, {})[name] = value
    decisions = {}
    for resource in resources:
        visibility = by_class[row_class[resource.pk]]
        redactions = {}
        if fields and visibility["visibility"] == "visible" and isinstance(resource, Entity):
            tenant_fields = withheld.get(str(resource.tenant_id), {})
            redactions = {
                name: Redaction(name, x["reason"], x["rule"], x.get("needs", {}))
                for name in resource.attributes or {}
                if (x := tenant_fields.get(name))
            }
        decisions[resource.pk] = Decision(
            visibility["visibility"],
            visibility["reason"],
            visibility["rule"],
            visibility.get("needs", {}),
            redactions,
            bundle.sha256,
        )
    if subject.purpose and fields and shows != "nothing":
        _audit_purpose_unlocked(subject=subject, action=action, resources=resources, decisions=decisions, shows=shows)
    return decisions


def _audit_purpose_unlocked(*, subject, action, resources, decisions, shows) -> None:
    """Reads that only a declared purpose allowed are audited with the purpose and what it unlocked."""
    rules = policy.current_bundle().data["field_rules"]
    bound = {name for name, rule in rules.items() if rule.get("purpose_bound")}
    unlocked: Counter = Counter()
    shown = []
    for resource in resources:
        if not isinstance(resource, Entity) or decisions[resource.pk].visibility != "visible":
            continue
        attributes = resource.attributes or {}
        names = bound.intersection(attributes).difference(decisions[resource.pk].redactions)
        if shows == "names":
            names = {
                n
                for n in names
                if name_without_withheld(resource.display_name, [attributes[n]]) != resource.display_name
            }
        if names:
            unlocked.update(names)
            shown.append(resource)
    if not shown:
        return
    _audit_page(
        "access.purpose_unlocked",
        subject=subject,
        action=action,
        rows=shown,
        fields=dict(unlocked),
        records=len(shown),
        resources=[str(e.pk) for e in shown[:20] if e.pk is not None],
    )


def _audit_page(event_type: str, *, subject, action: str, rows, **payload) -> None:
    """One audit event about a decided page: who, for which action and purpose, under which bundle; the tenant
    when the page held one tenant's rows only."""
    tenants = {row.tenant_id for row in rows}
    audit.record(
        event_type,
        actor=subject.user,
        tenant=tenants.pop() if len(tenants) == 1 else None,
        payload={"action": action, "purpose": subject.purpose, "bundle": policy.current_bundle().sha256, **payload},
    )


def audit_policy_error(*, subject, action, tenant_id, error) -> None:
    audit.record(
        "access.policy_error",
        actor=subject.user,
        tenant=tenant_id,
        payload={"action": action, "error": str(error)[:500], "bundle": policy.current_bundle().sha256},
    )


# --------------------------------------------------------------------------- filter and redact


@dataclass
class RedactedEntity:
    """What a caller may show of an entity: visible with some fields redacted, or a masked stub."""

    entity: Entity
    decision: Decision

    @property
    def masked(self) -> bool:
        return self.decision.visibility == "masked"

    @property
    def attributes(self) -> dict:
        if self.masked:
            return {}
        return {k: v for k, v in (self.entity.attributes or {}).items() if k not in self.decision.redactions}

    @property
    def redactions(self) -> list[Redaction]:
        return sorted(self.decision.redactions.values(), key=lambda r: r.field)

    @property
    def display_name(self) -> str:
        """The name this subject may see: a masked stub has none, and a name built from a withheld
        attribute (an account named by its IBAN) has that part withheld too."""
        if self.masked:
            return masked_label(self.entity.kind)
        withheld = [(self.entity.attributes or {}).get(name) for name in self.decision.redactions]
        return name_without_withheld(self.entity.display_name, withheld, kind=self.entity.kind)


NOT_VISIBLE_LABEL = "(not visible to you)"
WITHHELD_MARK = "[withheld]"
# A run of this many characters shared with a withheld value (with a digit in it) gives the value
# away: the last four digits of an account number are enough to recognise it.
_LEAK_RUN = 4


def masked_label(kind: str) -> str:
    return f"{kind} (masked)"


def _fold(value) -> str:
    return "".join(ch for ch in str(value).casefold() if ch.isalnum())


def _grams(folded: str) -> set[str]:
    return {folded[i : i + _LEAK_RUN] for i in range(len(folded) - _LEAK_RUN + 1)}


def _leaks(folded: str, secret: str) -> bool:
    """Whether a folded text shows a folded withheld value or a telling part of it."""
    if not folded or not secret:
        return False
    if len(secret) < _LEAK_RUN:
        return len(secret) >= 2 and secret in folded and any(ch.isdigit() for ch in secret)
    if secret in folded:
        return True
    return any(ch.isdigit() for run in _grams(secret).intersection(_grams(folded)) for ch in run)


def name_without_withheld(name: str, withheld_values, *, kind: str = "record") -> str:
    """``name`` with the words that show a withheld value replaced by a mark.

    Words are replaced when they show a telling part of a withheld value, or when they are part of
    one (the groups of a spaced IBAN); if the name still shows a value after that, all of it is withheld.
    """
    # Booleans and values shorter than a telling run identify nothing ("True" must not withhold "Trueman").
    secrets = [
        s
        for v in withheld_values
        if v is not None and not isinstance(v, bool)
        for s in [_fold(v)]
        if len(s) >= _LEAK_RUN
    ]
    if not secrets or not any(_leaks(_fold(name), s) for s in secrets):
        return name
    words = name.split()
    kept: list[str] = []
    for word in words:
        folded = _fold(word)
        is_part = bool(folded) and any(
            _leaks(folded, s) or (folded in s and (len(folded) >= _LEAK_RUN or any(c.isdigit() for c in folded)))
            for s in secrets
        )
        if is_part:
            if not kept or kept[-1] != WITHHELD_MARK:
                kept.append(WITHHELD_MARK)
        else:
            kept.append(word)
    result = " ".join(kept)
    if any(_leaks(_fold(result), s) for s in secrets) or result == WITHHELD_MARK:
        return f"{kind} {WITHHELD_MARK}"
    return result


# Kinds of records that are identifiers another record may repeat as an attribute: a person's ``phone``
# attribute is the number of the phone record linked to them.
IDENTIFIER_KINDS = ("phone", "email", "account", "address", "vehicle")
# A run this long shared with a linked record's identifier means the attribute repeats it, however
# written ("0170 1234567" and "+49 170 1234567" share "1701234567").
_LINKED_RUN = 7
_LINKED_LIMIT = 500


_DIGIT_RUN = re.compile(r"\d")


def _identifier(folded: str) -> tuple[str, frozenset]:
    """A folded identifier with its runs of ``_LINKED_RUN`` characters that hold a digit (computed once)."""
    runs = (folded[i : i + _LINKED_RUN] for i in range(len(folded) - _LINKED_RUN + 1))
    return folded, frozenset(run for run in runs if _DIGIT_RUN.search(run))


def _repeats(value: str, value_runs: set, identifier: tuple[str, frozenset]) -> bool:
    """Whether a folded attribute value repeats a folded identifier: contains it whole, or shares a run of
    ``_LINKED_RUN`` characters with a digit in it (a number written another way). Words alone do not
    count: a person's bank "Deutsche Bank" does not repeat the account named "Deutsche Bank DE89 …"."""
    secret, runs = identifier
    return len(value) >= _LEAK_RUN and (secret in value or not runs.isdisjoint(value_runs))


def _is_identifying(value) -> bool:
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    return "@" in text or sum(ch.isdigit() for ch in text) >= 3


def _is_text(value) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool)


_NEIGHBOURS_SQL = """
SELECT near, e.id, e.tenant_id, e.kind, e.display_name, e.attributes, e.sensitivity, e.labels FROM (
  (SELECT r.from_entity_id AS near, r.to_entity_id AS far FROM core_relationship r
   WHERE r.from_entity_id = ANY(%(ids)s::uuid[]))
  UNION ALL
  (SELECT r.to_entity_id, r.from_entity_id FROM core_relationship r WHERE r.to_entity_id = ANY(%(ids)s::uuid[]))
) AS link JOIN core_entity e ON e.id = link.far
WHERE e.kind = ANY(%(kinds)s) AND NOT (e.id = ANY(%(ids)s::uuid[]))
LIMIT %(limit)s
"""


def _identifier_neighbours(ids: list) -> tuple[dict, list[Entity]]:
    """Identifier records (IDENTIFIER_KINDS) linked to these entities, and the ids of those linked to each
    (keyed by the entity id as text): one statement (each direction uses its index; an OR over both ends would not)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _NEIGHBOURS_SQL, {"ids": [str(i) for i in ids], "kinds": list(IDENTIFIER_KINDS), "limit": _LINKED_LIMIT}
        )
        rows = cursor.fetchall()
    neighbours_of: dict = {}
    found: dict = {}
    for near, pk, tenant_id, kind, name, attributes, sensitivity, labels in rows:
        neighbours_of.setdefault(str(near), set()).add(pk)
        if pk not in found:
            attributes = json.loads(attributes) if isinstance(attributes, str) else attributes
            found[pk] = Entity(
                id=pk,
                tenant_id=tenant_id,
                kind=kind,
                display_name=name,
                attributes=attributes or {},
                sensitivity=sensitivity,
                labels=list(labels or ()),
            )
    return neighbours_of, list(found.values())


def with_linked_redactions(*, subject: Subject, entities: list[Entity], decisions: dict, action: str, links=()) -> dict:
    """Withhold attributes that repeat an identifier record linked to the entity which the subject may not
    read (masked or hidden, or a withheld attribute of it): the masked phone node's number must not show as
    the person's ``phone``. One query and one policy call per page; only for pages that show attributes."""
    shown = {e.pk: e for e in entities if decisions[e.pk].visibility == "visible" and e.attributes}
    if not shown:
        return decisions
    neighbours_of, neighbours = _identifier_neighbours(list(shown))
    # Links the caller knows of beyond today's rows (a merge's snapshot: its relationships were re-pointed).
    extra = {(str(a), str(b)) for a, b in links} | {(str(b), str(a)) for a, b in links}
    extra = {(near, far) for near, far in extra if near in {str(k) for k in shown}}
    known = {str(n.pk) for n in neighbours}
    missing = {far for _, far in extra} - known
    if missing:
        neighbours += list(
            Entity.objects.filter(pk__in=missing, kind__in=IDENTIFIER_KINDS).only(
                "id", "tenant_id", "kind", "display_name", "attributes", "sensitivity", "labels"
            )
        )
    by_text = {str(n.pk): n.pk for n in neighbours}
    for near, far in extra:
        if far in by_text:
            neighbours_of.setdefault(near, set()).add(by_text[far])
    if not neighbours_of:
        return decisions
    verdicts = decide(subject=subject, resources=neighbours, action=action, shows="nothing")
    identifiers: dict = {}
    for neighbour in neighbours:
        verdict = verdicts[neighbour.pk]
        attributes = neighbour.attributes or {}
        if verdict.visibility == "visible":
            values = [attributes.get(name) for name in verdict.redactions]
        else:
            # What identifies the record: its name, and values that are numbers or addresses, not
            # descriptive words shared by many records ("current", "EUR", a bank's name).
            values = [neighbour.display_name, *(v for v in attributes.values() if _is_identifying(v))]
        folded = [_fold(v) for v in values if _is_text(v)]
        if found := [_identifier(f) for f in folded if len(f) >= _LEAK_RUN]:
            identifiers[neighbour.pk] = (found, verdict)
    if not identifiers:
        return decisions
    updated = dict(decisions)
    for pk, entity in shown.items():
        linked = [identifiers[n] for n in neighbours_of.get(str(pk), ()) if n in identifiers]
        if not linked:
            continue
        extra = {}
        for name, value in entity.attributes.items():
            if name in decisions[pk].redactions or not _is_text(value):
                continue
            folded = _fold(value)
            # Runs only matter with a digit in them: values without one are checked for containment alone.
            runs = _identifier(folded)[1] if any(ch.isdigit() for ch in folded) else frozenset()
            for found, verdict in linked:
                if any(_repeats(folded, runs, identifier) for identifier in found):
                    # A hidden record's needs would say how secret it is: only a masked one's are shown.
                    needs = verdict.needs if verdict.visibility == "masked" else {}
                    extra[name] = Redaction(name, "LINKED_RECORD", "abac.linked_record", needs)
                    break
        if extra:
            updated[pk] = replace(decisions[pk], redactions={**decisions[pk].redactions, **extra})
    return updated


def audit_denials(*, subject, action, entities, decisions) -> None:
    denied = [e for e in entities if decisions[e.pk].visibility != "visible"]
    redacted = Counter(name for d in decisions.values() if d.visibility == "visible" for name in d.redactions)
    if not denied and not redacted:
        return
    _audit_page(
        "access.denied",
        subject=subject,
        action=action,
        rows=entities,
        denied=len(denied),
        reasons=dict(Counter(decisions[e.pk].reason for e in denied)),
        redacted_fields=dict(redacted),
        resources=[str(e.pk) for e in denied[:20]],
    )


_recorded_bundles: set[tuple[str, str]] = set()


def bundle_record_if_new() -> None:
    """Remember the bundle in force; a new SHA-256 is a policy change and is audited.

    Once the row is known to be committed in this database, later calls cost nothing.
    """
    current = policy.current_bundle()
    key = (connection.settings_dict["NAME"], current.sha256)
    if key in _recorded_bundles:
        return
    _, created = PolicyBundleVersion.objects.get_or_create(sha256=current.sha256, defaults={"sources": current.sources})
    if created:
        audit.record(
            "policy.bundle_changed",
            target_type="access.policybundleversion",
            target_id=current.sha256,
            payload={"sha256": current.sha256, "files": sorted(current.sources)},
        )
    # Only after commit: a rolled-back transaction must not leave us believing the row exists.
    transaction.on_commit(lambda: _recorded_bundles.add(key))
