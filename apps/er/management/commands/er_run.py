from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.access import purposes as access_purposes
from apps.core.management.tenant_args import tenants_from
from apps.er import runs
from apps.er.engine import KINDS
from apps.finops.errors import BudgetExceeded


def _purpose_check(purpose: str, targets) -> None:
    """Refuse before any tenant runs: a purpose one tenant's policy does not accept for merges merges nothing."""
    for target in targets:
        accepted = access_purposes.purposes_accepted(tenant_id=target.pk, action="merge")
        if purpose not in accepted:
            named = " or ".join(accepted) or "an investigative purpose active in the tenant"
            raise CommandError(f"--purpose must be {named} in {target.slug} (merges need one of them)")


class Command(BaseCommand):
    help = (
        "Resolve a tenant's entities of one kind: pairs in the review band go to the decision center; with a "
        "--purpose the policy accepts for merges in the tenant, pairs at or above the auto-merge threshold are merged."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", action="append", required=True, help="tenant slug (repeat)")
        parser.add_argument("--kind", choices=sorted(KINDS), default="person")
        parser.add_argument(
            "--purpose",
            default=None,
            help="an investigative purpose the tenant has active (policies/abac.rego), to allow auto-merges",
        )
        parser.add_argument("--workers", action="store_true", help="score the blocks as Celery tasks (needs workers)")
        parser.add_argument("--block-size", type=int, default=50_000, help="candidate pairs per block (default 50000)")

    def handle(self, *args, tenant, kind, purpose, workers, block_size, **options):
        if not 100 <= block_size <= 1_000_000:
            raise CommandError("--block-size must be between 100 and 1000000")
        targets = tenants_from(tenant)
        if purpose is not None:
            _purpose_check(purpose, targets)
        quiet = options["verbosity"] == 0
        refused = []  # tenants whose compute budget refused the run; the others still run
        for target in targets:
            with tqdm(unit="pair", desc=f"{target.slug} {kind}", disable=quiet) as bar:

                def progress(phase, done, total, bar=bar):
                    bar.total = total
                    bar.n = done
                    bar.refresh()

                try:
                    result = runs.run(
                        tenant=target,
                        kind=kind,
                        purpose=purpose,
                        progress=progress,
                        parallel=workers,
                        pairs_per_block=block_size,
                    )
                except BudgetExceeded as exc:
                    refused.append(target.slug)
                    self.stderr.write(f"{target.slug} {kind}: refused: {exc}")
                    continue
            how = "rules (model unavailable)" if result.by_rules else f"model {result.model_sha[:12]}"
            self.stdout.write(
                f"{target.slug} {kind}: {result.records:,} records, {result.candidate_pairs:,} candidate pairs "
                f"scored by {how}; {result.review:,} pairs for review, {result.merged_clusters:,} clusters merged, "
                f"{result.skipped_never_merge:,} skipped (never merge)"
            )
            for note in result.notes[:10]:
                self.stdout.write(f"  note: {note}")
        if refused:
            raise CommandError(f"refused at a budget cap: {', '.join(refused)} (the other tenants ran)")
