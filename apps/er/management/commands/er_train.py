import subprocess

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.core.management.tenant_args import tenants_from
from apps.core.models import Entity, GroundTruthLabel
from apps.er import engine
from apps.er import services as er
from apps.er.training_sets import training_sets


def _code_version() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class Command(BaseCommand):
    help = (
        "Fit an entity-resolution model (logistic regression on labelled pairs, docs/adr/0006) and register it in "
        "the model registry. Labels come from the demo generator's training tenants (default) or from tenants' "
        "ground-truth labels (--tenant). Prints the model's SHA-256; pin it in the admin (Model pins)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="model name, e.g. fs-2026-11")
        parser.add_argument("--tenant", action="append", help="train on these tenants' ground-truth labels instead")
        parser.add_argument("--l2", type=float, default=2.0, help="L2 regularisation (default 2.0)")

    def handle(self, *args, name, tenant, l2, **options):
        if not 0 < l2 <= 1000:
            raise CommandError("--l2 must be above 0 and at most 1000")
        if tenant:
            sets = [s for t in tenants_from(tenant) for s in self._tenant_sets(t)]
            if not sets:
                raise CommandError("those tenants have no ground-truth labels to learn from")
            source = "tenants " + ", ".join(tenant)
        else:
            self.stdout.write("building training sets from the demo generator (about a minute) …")
            sets = training_sets()
            source = "demo generator training tenants"
        model = engine.train(sets, l2=l2, metadata={"trained_on": source, "code_version": _code_version()})
        data = model.to_bytes()
        artifact = er.model_register(data=data, model_id=name, metadata=model.metadata)
        metrics = model.metadata.get("training_metrics") or model.metadata.get("metrics") or {}
        self.stdout.write(self.style.SUCCESS(f"registered {name}: sha256 {artifact.sha256} ({len(data):,} bytes)"))
        for kind, values in sorted(metrics.items()):
            self.stdout.write(f"  {kind}: {values}")

    def _tenant_sets(self, target):
        sets = []
        for kind in engine.KINDS:
            labels = dict(
                GroundTruthLabel.objects.filter(tenant=target, entity__kind=kind).values_list("entity_id", "identity")
            )
            if not labels:
                continue
            rows = Entity.objects.filter(pk__in=list(labels)).values_list("pk", "display_name", "attributes")
            records = list(er.entity_records(rows, kind).items())  # as runs score them: with the display name
            sets.append(engine.LabelledSet(kind, records, {str(k): v for k, v in labels.items()}, name=target.slug))
        return sets
