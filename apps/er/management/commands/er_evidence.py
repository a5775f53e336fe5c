"""Export a tenant's ER decisions as signed audit evidence (JSON lines), or check such an export offline."""

import json
import sys
from contextlib import nullcontext
from datetime import datetime, time, timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
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


class Command(BaseCommand):
    help = (
        "Write one tenant's entity-resolution decisions (approvals, rejections, deferrals, merges, rollbacks, model "
        "pins, threshold changes, rules fallbacks, runs) as audit evidence: one JSON line per event with the exact "
        "body its hash covers, the hash and the Ed25519 signature, after a header naming the public keys. "
        "--verify FILE checks such a file: every hash and signature, against this installation's keys."
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
        total = events.count()
        header = {
            "format": FORMAT, "tenant": target.slug, "tenant_id": target.pk, "since": since, "until": until,
            "exported_at": timezone.now().isoformat(), "events": total, "keys": audit.evidence_keys(),
        }  # fmt: skip
        counts: dict[str, int] = {}
        try:
            target_file = Path(out).open("w", encoding="utf-8") if out else nullcontext(self.stdout)  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"--out {out}: cannot be written ({exc.strerror})") from None
        with target_file as handle:
            handle.write(json.dumps(header, sort_keys=True) + "\n")
            with tqdm(total=total, unit="event", file=sys.stderr, disable=not out or total < 1000) as bar:
                for event in events.iterator(chunk_size=2000):
                    handle.write(json.dumps(audit.event_evidence(event), sort_keys=True, ensure_ascii=False) + "\n")
                    counts[event.event_type] = counts.get(event.event_type, 0) + 1
                    bar.update(1)
        if out:
            summary = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items())) or "no events"
            self.stdout.write(self.style.SUCCESS(f"wrote {total} event(s) for {target.slug} to {out}: {summary}"))

    def _verify(self, path: Path) -> None:
        if not path.is_file():
            raise CommandError(f"--verify {path}: no such file")
        keys = audit.evidence_keys()
        checked, problems, header = 0, [], None
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    item = json.loads(line)
                except json.JSONDecodeError:
                    problems.append(f"line {number}: not JSON")
                    continue
                if number == 1:
                    header = item
                    if not isinstance(item, dict) or item.get("format") != FORMAT:
                        raise CommandError(f"--verify {path}: not an ER evidence export (no {FORMAT} header)")
                    continue
                problem = audit.verify_evidence(item, keys) if isinstance(item, dict) else "not an object"
                if problem:
                    problems.append(f"line {number}: {problem}")
                checked += 1
        if header is None:
            raise CommandError(f"--verify {path}: the file is empty")
        if checked != header.get("events"):
            problems.append(f"the header says {header.get('events')} event(s), the file holds {checked}")
        if problems:
            raise CommandError(f"{path}: {len(problems)} problem(s): " + "; ".join(problems[:5]))
        self.stdout.write(
            self.style.SUCCESS(f"{path}: {checked} event(s) of tenant {header.get('tenant')} intact and signed")
        )
