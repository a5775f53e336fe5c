"""Export a tenant's ER decisions as signed audit evidence (JSON lines), or check such an export offline."""

import hashlib
import json
import sys
from contextlib import nullcontext
from datetime import datetime, time, timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Max
from django.utils import timezone
from tqdm import tqdm

from apps.compliance import services as audit
from apps.core.management.tenant_args import tenants_from
from apps.er import services as er

FORMAT = "intelgraph.er-evidence/1"


def _day(value: str | None, option: str):
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise CommandError(f"{option} {value!r}: give a date as YYYY-MM-DD") from None
    return timezone.make_aware(datetime.combine(day, time.min))


def _digest(hashes: list[str]) -> str:
    """SHA-256 over the exported events' hashes in order: the header's signature covers exactly these events."""
    return hashlib.sha256("\n".join(hashes).encode()).hexdigest()


class Command(BaseCommand):
    help = (
        "Write one tenant's entity-resolution decisions (approvals, rejections, deferrals, merges, rollbacks, model "
        "pins, threshold changes, rules fallbacks, runs) as audit evidence: a signed header, then one JSON line per "
        "event with the exact body its hash covers, the hash and the Ed25519 signature. --verify FILE checks such a "
        "file: the header's signature, every event's hash and signature, and that the events are the header's."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="tenant slug (required to export)")
        parser.add_argument("--since", help="first day, YYYY-MM-DD (default: the beginning)")
        parser.add_argument("--until", help="last day, YYYY-MM-DD, inclusive (default: today)")
        parser.add_argument("--out", help="file to write (default: standard output)")
        parser.add_argument("--verify", metavar="FILE", help="check an exported file instead of exporting")

    def handle(self, *args, tenant, since, until, out, verify, **options):
        if verify:
            return self._verify(Path(verify))
        if not tenant:
            raise CommandError("give --tenant SLUG to export (or --verify FILE to check an export)")
        (target,) = tenants_from([tenant])
        start, end = _day(since, "--since"), _day(until, "--until")
        if end is not None:
            end += timedelta(days=1)
        if start and end and start >= end:
            raise CommandError("--since is after --until")
        events = er.decision_events(tenant=target, since=start, until=end)
        # Events recorded while exporting are left for the next export: count and rows see the same events.
        last = events.aggregate(last=Max("seq"))["last"] or 0
        events = events.filter(seq__lte=last)
        items = [audit.event_evidence(event) for event in tqdm(
            events.iterator(chunk_size=2000), total=events.count(), unit="event", file=sys.stderr,
            disable=not out or options["verbosity"] == 0,
        )]  # fmt: skip
        header = {
            "format": FORMAT, "tenant": target.slug, "tenant_id": target.pk, "since": since, "until": until,
            "exported_at": timezone.now().isoformat(), "events": len(items), "last_seq": last,
            "digest": _digest([item["hash"] for item in items]), "keys": audit.evidence_keys(),
        }  # fmt: skip
        header["header_signature"] = audit.sign(audit.canonical_json(header))
        try:
            target_file = Path(out).open("w", encoding="utf-8") if out else nullcontext(self.stdout)  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"--out {out}: cannot be written ({exc.strerror})") from None
        counts: dict[str, int] = {}
        with target_file as handle:
            handle.write(json.dumps(header, sort_keys=True) + "\n")
            for item in items:
                handle.write(json.dumps(item, sort_keys=True, ensure_ascii=False) + "\n")
                kind = item["body"]["event_type"]
                counts[kind] = counts.get(kind, 0) + 1
        if out:
            summary = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items())) or "no events"
            self.stdout.write(self.style.SUCCESS(f"wrote {len(items)} event(s) for {target.slug} to {out}: {summary}"))

    # ------------------------------------------------------------------ verify

    def _verify(self, path: Path) -> None:
        if not path.is_file():
            raise CommandError(f"--verify {path}: no such file")
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"--verify {path}: cannot be read as UTF-8 text ({exc})") from None
        if not lines:
            raise CommandError(f"--verify {path}: the file is empty")
        header = self._header(path, lines[0])
        problems = []
        signed = {key: value for key, value in header.items() if key != "header_signature"}
        signature = header.get("header_signature") if isinstance(header.get("header_signature"), dict) else {}
        # Neither the keys listed in the file nor those registered in the database are trusted: signatures are
        # checked against the configured keys (AUDIT_TRUSTED_KEYS and this installation's own).
        problem = audit.verify_signature(
            audit.canonical_json(signed), signature.get("signature"), signature.get("key_id")
        )
        if problem:
            problems.append(f"header: {problem} (the header was changed, or not made here)")
        start, end = _day(header.get("since"), "since"), _day(header.get("until"), "until")
        hashes, previous = [], 0
        for number, line in enumerate(lines[1:], start=2):
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                problems.append(f"line {number}: not JSON")
                continue
            problem = audit.verify_evidence(item) or self._belongs(item["body"], header, previous, start, end)
            if problem:
                problems.append(f"line {number}: {problem}")
                continue
            previous = item["body"]["seq"]
            hashes.append(item["hash"])
        if len(hashes) != header.get("events") or _digest(hashes) != header.get("digest"):
            problems.append(
                f"the header says {header.get('events')} event(s) with digest {str(header.get('digest'))[:16]}…, "
                f"the file holds {len(hashes)} valid one(s) with digest {_digest(hashes)[:16]}… (lines dropped, "
                "added or reordered)"
            )
        if problems:
            raise CommandError(f"{path}: {len(problems)} problem(s): " + "; ".join(problems[:5]))
        self.stdout.write(
            self.style.SUCCESS(f"{path}: {len(hashes)} event(s) of tenant {header['tenant']} intact and signed")
        )

    def _header(self, path: Path, line: str) -> dict:
        try:
            header = json.loads(line)
        except json.JSONDecodeError:
            header = None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise CommandError(f"--verify {path}: not an ER evidence export (no {FORMAT} header on line 1)")
        for option in ("since", "until"):
            if header.get(option) is not None and not isinstance(header[option], str):
                raise CommandError(f"--verify {path}: the header's {option} is not a date")
        try:
            _day(header.get("since"), "since"), _day(header.get("until"), "until")
        except CommandError as exc:
            raise CommandError(f"--verify {path}: the header's {exc}") from None
        return header

    @staticmethod
    def _belongs(body: dict, header: dict, previous: int, start, end) -> str | None:
        """Why an intact event does not belong in this export, if it does not."""
        kind = body.get("event_type")
        if kind not in er.EVIDENCE_EVENTS:
            return f"event type {kind!r} is not ER evidence"
        tenant = body.get("tenant_id")
        if tenant != header.get("tenant_id") and not (tenant is None and kind == "er.model_pinned"):
            return f"event of tenant {tenant}, not of the header's tenant {header.get('tenant_id')}"
        seq = body.get("seq")
        if not isinstance(seq, int) or seq <= previous:
            return f"event #{seq} out of order or repeated"
        created = datetime.fromisoformat(str(body.get("created_at")))
        if (start and created < start) or (end and created >= end + timedelta(days=1)):
            return f"event #{seq} of {created.date()} is outside the header's dates"
        return None
