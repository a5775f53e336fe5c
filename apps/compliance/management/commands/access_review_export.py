from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.compliance import services as compliance
from apps.compliance.errors import AccessReviewError
from apps.compliance.models import AccessReview
from apps.core.models import User


class Command(BaseCommand):
    help = (
        "Export a closed access review as signed evidence: decisions.csv, the inclusion proofs of its audit events, "
        "and a manifest signed with the audit key (check it with manage.py evidence_verify or, offline, "
        "scripts/evidence_verify.py)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="the tenant's slug")
        parser.add_argument("--period", required=True, help="the quarter, e.g. 2026-Q4")
        parser.add_argument("--out", required=True, help="the zip file to write")
        parser.add_argument("--as", dest="username", required=True, help="who exports (a compliance member)")

    def handle(self, *args, tenant, period, out, username, **options):
        review = AccessReview.objects.filter(tenant__slug=tenant, period=period).select_related("tenant").first()
        if review is None:
            raise CommandError(f"there is no {period} access review of tenant {tenant!r}")
        actor = User.objects.filter(username=username).first()
        if actor is None:
            raise CommandError(f"there is no user {username!r}")
        try:
            data, _ = compliance.access_review_export(review=review, actor=actor)
        except AccessReviewError as exc:
            raise CommandError(f"not exported: {exc}") from None
        try:
            Path(out).write_bytes(data)
        except OSError as exc:
            raise CommandError(f"cannot write {out}: {exc}") from None
        self.stdout.write(self.style.SUCCESS(f"wrote {out} ({len(data):,} bytes): the {period} review of {tenant}"))
