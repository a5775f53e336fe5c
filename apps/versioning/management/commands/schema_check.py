from django.core.management.base import BaseCommand, CommandError
from graphene_django.settings import graphene_settings

from apps.versioning.contracts import contract_check
from apps.versioning.releases import ContractError


class Command(BaseCommand):
    help = (
        "Fail when the live GraphQL schema breaks the newest release (graphql/releases.json), unless the change "
        "completes a deprecation (docs/api/contract-checks.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--against",
            default=None,
            metavar="git:REF[:PATH] | FILE",
            help="compare with the schema at a commit (PATH defaults to schema.graphql) or in a file instead",
        )
        parser.add_argument(
            "--second-opinion",
            action="store_true",
            help="also run graphql-inspector diff and fail when its verdict differs from ours",
        )

    def handle(self, *args, against, second_opinion, **options):
        try:
            report = contract_check(
                live=graphene_settings.SCHEMA.graphql_schema, against=against, second_opinion=second_opinion
            )
        except ContractError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"baseline: {report.baseline.label}")
        for note in report.baseline.notes:
            self.stdout.write(self.style.WARNING(f"note: {note}"))
        for line in report.schema.dangerous:
            self.stdout.write(self.style.WARNING(f"dangerous: {line}"))
        for line in report.schema.allowed:
            self.stdout.write(f"allowed breaking change (completes a deprecation): {line}")
        for line in report.unmatched:
            self.stdout.write(self.style.WARNING(f"warning: {line}"))
        if report.baseline.release is not None:
            for entry in report.baseline.release.json_schemas:
                self.stdout.write(f"json schema: {entry.path} against {entry.snapshot}")
        if report.second_opinion is not None:
            self.stdout.write(f"second opinion (graphql-inspector): {report.second_opinion.name}")
        problems = []
        if report.schema.breaking:
            problems.append(
                f"breaking changes against {report.baseline.label}:\n  "
                + "\n  ".join(report.schema.breaking)
                + "\nKeep the field (deprecate it with an EOL date), or once its EOL has passed record the removal "
                "with the next major version in graphql/allowed-changes.json (docs/api/contract-checks.md)."
            )
        if report.json_schemas:
            problems.append(
                f"breaking JSON Schema changes against {report.baseline.label}:\n  "
                + "\n  ".join(report.json_schemas)
                + "\nA published JSON Schema version only grows, and graphql/allowed-changes.json cannot waive this: "
                "restore the file and put the change in a new versioned file beside it (e.g. "
                "graphql/schemas/search-filters.v2.json with its own $id) (docs/api/contract-checks.md)."
            )
        if report.allowance_errors:
            problems.append("refused in graphql/allowed-changes.json:\n  " + "\n  ".join(report.allowance_errors))
        if report.disagreement:
            theirs = report.second_opinion.changes.get("breaking", [])
            ours = report.schema.breaking + report.schema.allowed
            problems.append(
                f"second opinion disagrees: {report.disagreement}"
                + "".join(f"\n  graphql-inspector: {line}" for line in theirs)
                + "".join(f"\n  schema_check: {line}" for line in ours)
            )
        if problems:
            raise CommandError("\n".join(problems))
        self.stdout.write(self.style.SUCCESS(f"schema check OK: no breaking changes against {report.baseline.label}"))
