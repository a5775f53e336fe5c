from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.audit import services as audit
from apps.compliance.bundle import bundle_build
from apps.compliance.errors import ComplianceError
from apps.core.models import Tenant


class Command(BaseCommand):
    help = (
        "Build the evidence bundle (v4) of a quarter, of one tenant (--tenant) or every tenant: control statuses, "
        "applicability, the model registry, the period's ER decisions with inclusion proofs, API compatibility, the "
        "closed access reviews, the audit checkpoint, and the gaps, under a signed manifest. Check it with "
        "manage.py evidence_verify or, offline, scripts/evidence_verify.py."
    )

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="the quarter, e.g. 2026-Q4")
        parser.add_argument("--tenant", default=None, help="a tenant's slug (default: every tenant)")
        parser.add_argument("--out", required=True, help="the zip file to write")

    def handle(self, *args, period, tenant, out, **options):
        one = None
        if tenant:
            one = Tenant.objects.filter(slug=tenant).first()
            if one is None:
                raise CommandError(f"there is no tenant {tenant!r}")
        with tqdm(total=100, unit="%", disable=options["verbosity"] == 0) as bar:

            def progress(percent: int, step: str) -> None:
                bar.set_description(step)
                bar.update(percent - bar.n)

            try:
                data = bundle_build(tenant=one, period=period, progress=progress)
            except ComplianceError as exc:
                raise CommandError(str(exc)) from None
        try:
            Path(out).write_bytes(data)
        except OSError as exc:
            raise CommandError(f"cannot write {out}: {exc}") from None
        audit.record(
            "compliance.bundle_exported",
            actor_label="manage.py evidence_export",
            tenant=one,
            payload={"period": period, "bytes": len(data), "out": str(out)[:200]},
        )
        self.stdout.write(
            self.style.SUCCESS(f"wrote {out} ({len(data):,} bytes): evidence of {tenant or 'every tenant'} {period}")
        )
