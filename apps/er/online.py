"""Online entity resolution: every entity written anywhere (a service, an import, the demo loader) is scored
against its likely candidates once the write commits.

Each write of an entity adds an ``er`` row to core's transactional outbox in its own transaction
(``apps.core.outbox``) and, once it commits, queues ``er.score_outbox``. ``outbox_score`` claims rows in id
order a batch at a time (``FOR UPDATE SKIP LOCKED``, so any number of workers share a backlog), scores the
batch's entities and deletes the rows in the same transaction: every committed write is scored at least once,
and the rows of a worker that dies mid-batch go to the next one. A bulk load is scored like the single writes it
stands for, asynchronously, and never slows the load itself.

``score_entities`` gives the pairs that scoring its entities one at a time would give (``runs.score_entity``
is a batch of one): the same candidates (the same strong identifier, the same family name and birth date, or the
same name; the 200 most recent), the tenant's model, the review band, never-merge pairs left out. For a batch
it costs a few queries rather than a few per entity: the model is loaded once, names are matched in one query and
identifiers in one indexed join. Online scoring never merges by itself: there is no declared purpose behind a write.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F
from django.db.models.expressions import RawSQL
from django.db.models.functions import Upper
from django.utils import timezone
from psycopg.types.json import Jsonb

from apps.core.choices import EntityKind, OutboxConsumer
from apps.core.models import Entity, OutboxEvent, Tenant
from apps.er import runs
from apps.er import services as er
from intelgraph import metering

logger = logging.getLogger(__name__)

ONLINE_KINDS = (EntityKind.PERSON, EntityKind.ORGANIZATION)
# Attributes that identify an entity on their own: an entity sharing one of them is a candidate.
ONLINE_KEYS = (
    "email",
    "phone",
    "national_id",
    "passport_number",
    "registration_number",
    "tax_id",
    "iban",
    "account_number",
    "website",
)
MAX_ONLINE_CANDIDATES = 200
BATCH_SIZE = 500  # outbox rows claimed (and entities scored) per transaction
MAX_ATTEMPTS = 5  # a row whose entity failed this often is set aside (kept, with its error) and no longer claimed


# --------------------------------------------------------------------------- the outbox consumer


@dataclass
class OnlineResult:
    rows: int = 0  # outbox rows consumed
    scored: int = 0  # candidate pairs scored
    review: int = 0  # pairs recorded in the review band
    failed: int = 0  # rows kept because scoring their entity failed (retried until MAX_ATTEMPTS)


def outbox_lag() -> dict:
    """ER's pending outbox rows and the age of the oldest, for /metrics."""
    rows = OutboxEvent.objects.filter(consumer=OutboxConsumer.ER)
    oldest = rows.order_by("id").values_list("created_at", flat=True).first()
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    return {"pending": rows.count() if oldest else 0, "oldest_seconds": round(age, 1)}


def outbox_score(*, batch_size: int = BATCH_SIZE, max_batches: int | None = None) -> OnlineResult:
    """Score the entities of pending ``er`` outbox rows, batch by batch, until none is left to claim. A row that
    fails is tried again by the next run, not this one."""
    result = OnlineResult()
    failed: set[int] = set()
    batches = 0
    while max_batches is None or batches < max_batches:
        with transaction.atomic():
            claimed = list(
                OutboxEvent.objects.filter(consumer=OutboxConsumer.ER, attempts__lt=MAX_ATTEMPTS)
                .exclude(id__in=failed)
                .order_by("id")
                .select_for_update(skip_locked=True)
                .values_list("id", "object_id")[:batch_size]
            )
            if not claimed:
                break
            batches += 1
            failed |= _score_claimed(claimed, result)
    return result


def _score_claimed(claimed: list[tuple[int, object]], result: OnlineResult) -> set[int]:
    """Score the claimed rows' entities (in the claiming transaction) and delete the rows that were scored; return
    the rows that failed. If the batch fails, its entities are scored one at a time, so one bad record holds up only
    its own rows."""
    rows_of: dict[object, list[int]] = defaultdict(list)
    for row_id, entity_id in claimed:
        rows_of[entity_id].append(row_id)
    done: list[int] = []
    failed: set[int] = set()
    try:
        with transaction.atomic():
            _add(result, score_entities(entity_ids=list(rows_of)))
        done = [row_id for row_id, _ in claimed]
    except Exception as exc:
        if len(rows_of) == 1:
            failed |= _failed(rows_of, exc, result)
        else:
            for entity_id, row_ids in rows_of.items():
                try:
                    with transaction.atomic():
                        _add(result, score_entities(entity_ids=[entity_id]))
                    done += row_ids
                except Exception as one:
                    failed |= _failed({entity_id: row_ids}, one, result)
    OutboxEvent.objects.filter(id__in=done).delete()
    result.rows += len(done)
    return failed


def _add(result: OnlineResult, counts: dict) -> None:
    result.scored += counts["scored"]
    result.review += counts.get("review", 0)


def _failed(rows_of: dict, exc: Exception, result: OnlineResult) -> set[int]:
    row_ids = {row_id for ids in rows_of.values() for row_id in ids}
    logger.error("online ER scoring failed for %s: %s", ", ".join(map(str, rows_of)), exc)
    OutboxEvent.objects.filter(id__in=row_ids).update(attempts=F("attempts") + 1, last_error=str(exc)[:1000])
    result.failed += len(row_ids)
    return row_ids


# --------------------------------------------------------------------------- scoring


def score_entities(*, entity_ids: Sequence) -> dict:
    """Score entities (in the order they were written) against their candidates; pairs in the review band go to
    the decision center. Entities merged away, of other kinds or in tenants without the ``er`` flag are skipped.

    A pair of two entities of the batch is scored once, oriented as the later write would have scored it."""
    order = {str(pk): n for n, pk in enumerate(entity_ids)}
    entities = sorted(
        Entity.objects.filter(pk__in=list(entity_ids), merged_into=None, kind__in=ONLINE_KINDS).only(
            "id", "tenant_id", "kind", "display_name", "attributes", "created_at"
        ),
        key=lambda e: order[str(e.pk)],
    )
    groups: dict[tuple[int, str], list[Entity]] = defaultdict(list)
    for entity in entities:
        groups[(entity.tenant_id, entity.kind)].append(entity)
    tenants = {t.pk: t for t in Tenant.objects.filter(pk__in={tenant_id for tenant_id, _ in groups})}
    scored = review = 0
    by_rules = False
    for (tenant_id, kind), members in groups.items():
        tenant = tenants[tenant_id]
        if tenant.flag("er"):
            cpu = time.process_time()
            counts = _score_group(tenant=tenant, kind=kind, members=members)
            scored, review, by_rules = scored + counts[0], review + counts[1], by_rules or counts[2]
            metering.meter_split(
                tenant_ids=[tenant_id], feature="er_online",
                counts={"pair": counts[0], "cpu_second": time.process_time() - cpu},
            )  # fmt: skip
    return {"scored": scored, "review": review, "by_rules": by_rules} if scored else {"scored": 0}


def _score_group(*, tenant: Tenant, kind: str, members: list[Entity]) -> tuple[int, int, bool]:
    candidates = _candidates(tenant=tenant, kind=kind, members=members)
    rows: dict[object, tuple] = {}
    pairs: dict[frozenset, tuple[str, str]] = {}
    for entity in members:
        for pk, name, attributes, _ in candidates[entity.pk]:
            rows[pk] = (pk, name, attributes)
            pairs[frozenset((entity.pk, pk))] = (str(entity.pk), str(pk))  # a later write re-orients the pair
    if not pairs:
        return 0, 0, False
    for entity in members:
        rows[entity.pk] = (entity.pk, entity.display_name, entity.attributes)
    records = er.entity_records(rows.values(), kind)
    scorer = runs.scorer_for(tenant)
    settings = er.settings_for(tenant=tenant)
    scored = runs.score_block(scorer, records, list(pairs.values()), kind=kind)
    keep = [(a, b, p) for a, b, p in scored if p >= settings.review_threshold]
    never = er.never_merge_pairs(tenant_id=tenant.pk, ids=records)
    with transaction.atomic():
        review, _ = runs.record_pairs(
            tenant=tenant, kind=kind, scorer=scorer, records=records, scored=keep, never=never
        )
    return len(scored), review, scorer.by_rules


def _probes(attributes: dict) -> list[dict]:
    """The attribute values an entity shares with a candidate: each strong identifier, family name with birth date."""
    probes = [
        {key: attributes[key]}
        for key in ONLINE_KEYS
        if isinstance(attributes.get(key), str) and attributes[key].strip()
    ]
    if attributes.get("family_name") and attributes.get("birth_date"):
        probes.append({"family_name": attributes["family_name"], "birth_date": attributes["birth_date"]})
    return probes


def _candidates(*, tenant: Tenant, kind: str, members: list[Entity]) -> dict[object, list[tuple]]:
    """For each member: the tenant's other root entities of its kind with the same name (case-insensitive, as
    ``iexact``) or sharing an identifier (JSON containment, as ``attributes__contains``), the most recent first,
    at most MAX_ONLINE_CANDIDATES, as (pk, display_name, attributes, created_at)."""
    found: dict[object, dict[object, tuple]] = defaultdict(dict)
    # Same name: one query for the batch, PostgreSQL's upper() on both sides (as iexact compares).
    names = sorted({e.display_name for e in members})
    same_name: dict[str, list[tuple]] = defaultdict(list)
    rows = (
        Entity.objects.filter(tenant=tenant, kind=kind, merged_into=None)
        .alias(upper_name=Upper("display_name"))
        .filter(upper_name__in=RawSQL("SELECT upper(n) FROM unnest(%s::text[]) AS n", (names,)))
        .order_by()
        .values_list("pk", "display_name", "attributes", "created_at", Upper("display_name"))
    )
    upper_of = {}
    for pk, name, attributes, created_at, upper in rows:
        same_name[upper].append((pk, name, attributes, created_at))
        upper_of[pk] = upper
    for entity in members:
        for row in same_name.get(upper_of.get(entity.pk), ()):
            found[entity.pk][row[0]] = row
    # Shared identifiers: one join of every member's probes, each an indexed containment lookup (GIN).
    probes, owner = [], []
    for entity in members:
        for probe in _probes(entity.attributes or {}):
            probes.append(Jsonb(probe))
            owner.append(entity.pk)
    if probes:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT p.n, e.id FROM unnest(%s::jsonb[]) WITH ORDINALITY AS p(doc, n) "  # noqa: S608 - our table
                f"JOIN {Entity._meta.db_table} e ON e.attributes @> p.doc "
                "WHERE e.tenant_id = %s AND e.kind = %s AND e.merged_into_id IS NULL",
                [probes, tenant.pk, kind],
            )
            sharing = cursor.fetchall()
        known = {row[0]: row for rows in same_name.values() for row in rows}
        missing = {pk for _, pk in sharing} - known.keys()
        known.update(
            (row[0], row)
            for row in Entity.objects.filter(pk__in=missing).values_list(
                "pk", "display_name", "attributes", "created_at"
            )
        )
        for n, pk in sharing:
            found[owner[n - 1]][pk] = known[pk]
    out = {}
    for entity in members:
        others = [row for pk, row in found[entity.pk].items() if pk != entity.pk]
        others.sort(key=lambda row: row[0])  # Entity's ordering: newest first, then by id
        others.sort(key=lambda row: row[3], reverse=True)
        out[entity.pk] = others[:MAX_ONLINE_CANDIDATES]
    return out
