import sys
import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.core import demo


class Command(BaseCommand):
    help = (
        "Generate synthetic demo data (people, organisations, accounts, addresses, phones, emails, vehicles, "
        "events, their relationships and ER ground truth) into pilot tenants. --entities is the total across "
        "all tenants, split evenly. The same --seed, --entities and tenants give the same data."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--tenants", type=int, default=2, help="how many pilot tenants (pilot-north, pilot-south, ...); default 2"
        )
        parser.add_argument(
            "--slug",
            action="append",
            dest="slugs",
            metavar="SLUG",
            help="seed this tenant instead of the pilot tenants (repeatable); created when missing",
        )
        parser.add_argument(
            "--entities",
            type=int,
            default=demo.DEFAULT_ENTITIES,
            help=f"total entities across all tenants, split evenly (default {demo.DEFAULT_ENTITIES})",
        )
        parser.add_argument(
            "--seed", type=int, default=demo.DEFAULT_SEED, help=f"random seed (default {demo.DEFAULT_SEED})"
        )
        existing = parser.add_mutually_exclusive_group()
        existing.add_argument(
            "--if-empty", action="store_true", help="do nothing if any of the tenants already has entities"
        )
        existing.add_argument(
            "--replace", action="store_true", help="delete the tenants' earlier demo data first, then seed"
        )
        parser.add_argument("--no-progress", action="store_true", help="do not show the progress bar")

    def handle(self, *args, tenants, slugs, entities, seed, if_empty, replace, no_progress, **options):
        if slugs is None and tenants < 1:
            raise CommandError(f"--tenants must be 1 or more, not {tenants}.")
        slugs = slugs or demo.default_slugs(tenants)
        try:
            demo.validate_seed_request(slugs=slugs, entities=entities)
            if if_empty:
                busy = {slug: s["entities"] for slug, s in demo.demo_tenant_state(slugs=slugs).items() if s["entities"]}
                if busy:
                    listed = ", ".join(
                        f"{slug} ({count:,} {'entity' if count == 1 else 'entities'})" for slug, count in busy.items()
                    )
                    self.stdout.write(f"seed_demo: tenants already have data, nothing to do: {listed}.")
                    return
            if not replace:
                demo.check_no_demo_data(slugs=slugs)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        started = time.perf_counter()
        bar = tqdm(
            total=entities, unit=" entities", unit_scale=True, disable=no_progress, file=sys.stderr, desc="seed_demo"
        )
        try:
            with bar:
                results = demo.demo_seed(
                    slugs=slugs, entities=entities, seed=seed, replace=replace, progress=bar.update
                )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self._report(results, seed=seed, seconds=time.perf_counter() - started)

    def _report(self, results, *, seed, seconds):
        for r in results:
            kinds = ", ".join(f"{kind} {count:,}" for kind, count in sorted(r.entities.items()))
            created = " (tenant created)" if r.created_tenant else ""
            replaced = f", replaced {r.replaced:,} earlier demo entities" if r.replaced else ""
            self.stdout.write(f"{r.slug}{created}: {r.entity_total:,} entities ({kinds})")
            self.stdout.write(
                f"    {r.relationship_total:,} relationships, {r.ground_truth:,} ground-truth labels, "
                f"{r.duplicates:,} near-duplicates injected{replaced}, {r.seconds:.1f} s"
            )
        total = sum(r.entity_total for r in results)
        relationships = sum(r.relationship_total for r in results)
        duplicates = sum(r.duplicates for r in results)
        deleting = sum(r.replace_seconds for r in results)
        loading = seconds - deleting
        timing = f"{seconds:.1f} s ({total / loading if loading > 0 else 0:,.0f} entities/s"
        timing += f"; {deleting:.1f} s of it deleting earlier demo data)" if deleting else ")"
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {total:,} entities, {relationships:,} relationships and {duplicates:,} near-duplicates "
                f"into {len(results)} tenant(s) with seed {seed} in {timing}."
            )
        )
