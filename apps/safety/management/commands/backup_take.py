from django.core.management.base import BaseCommand, CommandError

from apps.safety import services
from apps.safety.choices import BackupKind, Trigger
from apps.safety.errors import SafetyError


class Command(BaseCommand):
    help = (
        "Take a base backup of PostgreSQL now with Barman (compressed, encrypted), wait for its WAL, checksum its "
        "files and record it; a restore point follows. Exits 1 when the backup fails (it is then recorded failed)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--incremental", action="store_true", help="block-level incremental since the last good one"
        )
        parser.add_argument("--no-restore-point", action="store_true", help="skip the restore point after it")

    def handle(self, *args, incremental, no_restore_point, **options):
        kind = BackupKind.INCREMENTAL if incremental else BackupKind.FULL
        self.stdout.write(f"taking a {kind} backup with Barman …")
        try:
            backup = services.backup_take(kind=kind, trigger=Trigger.COMMAND, restore_point=not no_restore_point)
        except SafetyError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"backup {backup.backup_id} ({backup.kind}) good: {backup.size_bytes / 1e6:,.1f} MB on disk "
                f"(cluster {backup.cluster_size_bytes / 1e6:,.1f} MB) in {backup.duration_seconds:.1f} s, "
                f"{len(backup.files)} files checksummed"
            )
        )
