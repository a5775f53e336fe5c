import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from apps.safety import drills
from apps.safety.choices import DrillStatus, Trigger
from apps.safety.errors import SafetyError


class Command(BaseCommand):
    help = (
        "Run a restore drill now, in this process: restore the newest good backup into a scratch instance (never "
        "the live one), replay WAL to a restore point taken now or to --target-time, verify it physically and "
        "logically, bring the graph to the same point, probe the product, tear down; prints the signed report's "
        "figures. Exits 1 when the drill fails."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--target-time",
            help="recover to this time (ISO 8601 with a time zone, e.g. 2026-12-04T10:15:00Z); default: a restore "
            "point taken when the drill starts",
        )

    def handle(self, *args, target_time, **options):
        target = None
        if target_time:
            target = parse_datetime(target_time.replace("Z", "+00:00"))
            if target is None:
                raise CommandError(f"--target-time: not a date and time: {target_time!r} (e.g. 2026-12-04T10:15:00Z)")
            if target.tzinfo is None:
                raise CommandError("--target-time: give the time zone (e.g. 2026-12-04T10:15:00Z)")
            target = target.astimezone(datetime.UTC)
        try:
            drill = drills.drill_create(trigger=Trigger.COMMAND, target=target)
        except SafetyError as exc:
            raise CommandError(str(exc)) from None
        quiet = options["verbosity"] == 0
        try:
            drill = drills.drill_run(drill.pk, say=(lambda text: None) if quiet else self.stdout.write)
        except SafetyError as exc:
            raise CommandError(str(exc)) from None
        for step in drill.steps:
            seconds = f"{step['seconds']:8.1f} s" if step.get("seconds") is not None else "       — "
            self.stdout.write(f"  {step['name']:<9} {step['status']:<8} {seconds}")
        if drill.status != DrillStatus.PASSED:
            raise CommandError(f"restore drill #{drill.pk} FAILED: {drill.error}")
        self.stdout.write(
            self.style.SUCCESS(
                f"restore drill #{drill.pk} passed: RTO {drill.rto_seconds:.1f} s, RPO {drill.rpo_seconds:.1f} s, "
                f"backup {drill.backup.backup_id}, report signed by key {drill.signature.get('key_id')}"
            )
        )
