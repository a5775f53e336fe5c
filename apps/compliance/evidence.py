"""Signed evidence exports: audit events as JSON lines an auditor can check offline, without the database.

An export is a header line, then one line per event. The header names the format, the tenant, the dates asked
for (``since`` / ``until``, YYYY-MM-DD, either may be None), how many events follow, the last sequence number
included, a digest over the events' hashes in order, the public keys that signed them, and its own Ed25519
signature over all of that (``header_signature``). Each event line is ``apps.audit.services.event_evidence``:
the exact body its hash covers, the hash and the event's signature.

Checking (``evidence_verify``) trusts neither the keys listed in the file nor those registered in the database:
signatures are checked against the configured keys (AUDIT_TRUSTED_KEYS and this installation's own). It finds a
changed header, a changed, dropped, added, repeated or reordered line, and an event that is intact but does not
belong (another tenant's, another kind, outside the dates).

Today's one format is the ER decision record (``ER_EVIDENCE_FORMAT``, written by ``manage.py er_evidence``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TextIO

from django.db.models import Max, QuerySet
from django.utils import timezone

from apps.audit import services as audit

ER_EVIDENCE_FORMAT = "intelgraph.er-evidence/1"


class EvidenceFileError(ValueError):
    """A file that cannot be checked at all: empty, no header of this format, or a header whose dates are not
    dates. (A file that can be checked but fails is an ``EvidenceCheck`` with problems.)"""


def evidence_day(value: str | None) -> datetime | None:
    """The start of a day given as YYYY-MM-DD, as an aware datetime (None for no day); ValueError otherwise."""
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"{value!r}: give a date as YYYY-MM-DD") from None
    return timezone.make_aware(datetime.combine(day, time.min))


def evidence_digest(hashes: list[str]) -> str:
    """SHA-256 over the exported events' hashes in order: the header's signature covers exactly these events."""
    return hashlib.sha256("\n".join(hashes).encode()).hexdigest()


@dataclass
class EvidenceExport:
    """A signed export ready to write: its header and one evidence item per event."""

    header: dict
    items: list[dict]

    @property
    def counts(self) -> dict[str, int]:
        """Events per event type."""
        counts: dict[str, int] = {}
        for item in self.items:
            kind = item["body"]["event_type"]
            counts[kind] = counts.get(kind, 0) + 1
        return counts


def evidence_export(
    *,
    tenant,
    events: QuerySet,
    since: str | None = None,
    until: str | None = None,
    progress: Callable[[Iterator, int], Iterable] | None = None,
) -> EvidenceExport:
    """Sign these audit events of a tenant as an export. ``since`` / ``until`` are the days asked for, as given
    (they are recorded in the header, and checked against the events on verification); ``progress`` may wrap the
    events as they are read (``progress(iterator, total)``, e.g. a tqdm bar)."""
    # Events recorded while exporting are left for the next export: count and rows see the same events.
    last = events.aggregate(last=Max("seq"))["last"] or 0
    events = events.filter(seq__lte=last)
    rows = events.iterator(chunk_size=2000)
    if progress is not None:
        rows = progress(rows, events.count())
    items = [audit.event_evidence(event) for event in rows]
    header = {
        "format": ER_EVIDENCE_FORMAT,
        "tenant": tenant.slug,
        "tenant_id": tenant.pk,
        "since": since,
        "until": until,
        "exported_at": timezone.now().isoformat(),
        "events": len(items),
        "last_seq": last,
        "digest": evidence_digest([item["hash"] for item in items]),
        "keys": audit.evidence_keys(),
    }
    header["header_signature"] = audit.sign(audit.canonical_json(header))
    audit.record(
        "compliance.evidence_exported",
        tenant=tenant,
        payload={"since": since, "until": until, "events": len(items), "last_seq": last, "digest": header["digest"]},
    )
    return EvidenceExport(header, items)


def evidence_write(export: EvidenceExport, handle: TextIO) -> None:
    """Write an export as JSON lines: the header, then one line per event."""
    handle.write(json.dumps(export.header, sort_keys=True) + "\n")
    for item in export.items:
        handle.write(json.dumps(item, sort_keys=True, ensure_ascii=False) + "\n")


@dataclass
class EvidenceCheck:
    """What checking an export found: its tenant, the events that are intact and belong, and the problems."""

    tenant: str
    events: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def evidence_verify(
    *, lines: list[str], event_types: Iterable[str], shared_event_types: Iterable[str] = ()
) -> EvidenceCheck:
    """Check an export's lines: the header's signature, every event's hash and signature, that each event is
    one of ``event_types``, of the header's tenant (``shared_event_types`` may also be of no tenant), in order
    and within the header's dates, and that the events are exactly those the header signed.

    Raises EvidenceFileError for a file that cannot be checked at all."""
    if not lines:
        raise EvidenceFileError("the file is empty")
    header = _header(lines[0])
    event_types, shared_event_types = set(event_types), set(shared_event_types)
    problems = []
    signed = {key: value for key, value in header.items() if key != "header_signature"}
    signature = header.get("header_signature") if isinstance(header.get("header_signature"), dict) else {}
    problem = audit.verify_signature(audit.canonical_json(signed), signature.get("signature"), signature.get("key_id"))
    if problem:
        problems.append(f"header: {problem} (the header was changed, or not made here)")
    start, end = evidence_day(header.get("since")), evidence_day(header.get("until"))
    hashes, previous = [], 0
    for number, line in enumerate(lines[1:], start=2):
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            problems.append(f"line {number}: not JSON")
            continue
        problem = audit.verify_evidence(item) or _belongs(
            item["body"], header, previous, start, end, event_types, shared_event_types
        )
        if problem:
            problems.append(f"line {number}: {problem}")
            continue
        previous = item["body"]["seq"]
        hashes.append(item["hash"])
    if len(hashes) != header.get("events") or evidence_digest(hashes) != header.get("digest"):
        problems.append(
            f"the header says {header.get('events')} event(s) with digest {str(header.get('digest'))[:16]}…, "
            f"the file holds {len(hashes)} valid one(s) with digest {evidence_digest(hashes)[:16]}… (lines dropped, "
            "added or reordered)"
        )
    return EvidenceCheck(tenant=str(header.get("tenant")), events=len(hashes), problems=problems)


def _header(line: str) -> dict:
    try:
        header = json.loads(line)
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != ER_EVIDENCE_FORMAT:
        raise EvidenceFileError(f"not an ER evidence export (no {ER_EVIDENCE_FORMAT} header on line 1)")
    for option in ("since", "until"):
        if header.get(option) is not None and not isinstance(header[option], str):
            raise EvidenceFileError(f"the header's {option} is not a date")
    for option in ("since", "until"):
        try:
            evidence_day(header.get(option))
        except ValueError as exc:
            raise EvidenceFileError(f"the header's {option} {exc}") from None
    return header


def _belongs(
    body: dict, header: dict, previous: int, start, end, event_types: set, shared_event_types: set
) -> str | None:
    """Why an intact event does not belong in this export, if it does not."""
    kind = body.get("event_type")
    if kind not in event_types:
        return f"event type {kind!r} is not ER evidence"
    tenant = body.get("tenant_id")
    if tenant != header.get("tenant_id") and not (tenant is None and kind in shared_event_types):
        return f"event of tenant {tenant}, not of the header's tenant {header.get('tenant_id')}"
    seq = body.get("seq")
    if not isinstance(seq, int) or seq <= previous:
        return f"event #{seq} out of order or repeated"
    created = datetime.fromisoformat(str(body.get("created_at")))
    if (start and created < start) or (end and created >= end + timedelta(days=1)):
        return f"event #{seq} of {created.date()} is outside the header's dates"
    return None
