"""Export a tenant's ER decisions as signed audit evidence (JSON lines), or check such an export offline.

Part of the SOC 2 pack (apps.compliance sits above every lane, so it may read ER's decision events).

The format, and how it is signed and checked, is apps.compliance.evidence; this command picks the events
(apps.er.selectors.decision_events), reads and writes files, and reports."""

import sys
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.compliance import evidence
from apps.core.management.tenant_args import tenants_from
from apps.er import selectors as er


def _day(value: str | None, option: str):
    try:
        return evidence.evidence_day(value)
    except ValueError as exc:
        raise CommandError(f"{option} {exc}") from None


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
        quiet = not out or options["verbosity"] == 0

        def progress(rows, total):
            return tqdm(rows, total=total, unit="event", file=sys.stderr, disable=quiet)

        export = evidence.evidence_export(
            tenant=target,
            events=er.decision_events(tenant=target, since=start, until=end),
            since=since,
            until=until,
            progress=progress,
        )
        try:
            target_file = Path(out).open("w", encoding="utf-8") if out else nullcontext(self.stdout)  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"--out {out}: cannot be written ({exc.strerror})") from None
        with target_file as handle:
            evidence.evidence_write(export, handle)
        if out:
            summary = ", ".join(f"{kind} {n}" for kind, n in sorted(export.counts.items())) or "no events"
            self.stdout.write(
                self.style.SUCCESS(f"wrote {len(export.items)} event(s) for {target.slug} to {out}: {summary}")
            )

    def _verify(self, path: Path) -> None:
        if not path.is_file():
            raise CommandError(f"--verify {path}: no such file")
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"--verify {path}: cannot be read as UTF-8 text ({exc})") from None
        try:
            check = evidence.evidence_verify(
                lines=lines, event_types=er.EVIDENCE_EVENTS, shared_event_types=er.EVIDENCE_EVENTS_FOR_ALL_TENANTS
            )
        except evidence.EvidenceFileError as exc:
            raise CommandError(f"--verify {path}: {exc}") from None
        if not check.ok:
            raise CommandError(f"{path}: {len(check.problems)} problem(s): " + "; ".join(check.problems[:5]))
        self.stdout.write(
            self.style.SUCCESS(f"{path}: {check.events} event(s) of tenant {check.tenant} intact and signed")
        )
