from django.apps import AppConfig


class SafetyConfig(AppConfig):
    """Data safety: the backup policy, encrypted PostgreSQL backups with point-in-time recovery through Barman,
    graph store snapshots, restore points with logical checksums, and restore drills into a scratch instance
    with signed reports (plan epic E, ADR 0011)."""

    name = "apps.safety"
    verbose_name = "Data safety"

    def ready(self):
        from django.db.models.signals import post_migrate

        from intelgraph import schedules

        schedules.DERIVED_PREFIXES.add("Backup policy: ")
        post_migrate.connect(_apply_policy, sender=self)


def _apply_policy(sender, using="default", **kwargs):
    """The policy's beat entries and Barman's configuration follow the policy after every migrate."""
    from django.db import connections

    from apps.safety.models import BackupPolicy
    from apps.safety.services import policy_applied

    if using != "default" or BackupPolicy._meta.db_table not in connections[using].introspection.table_names():
        return  # migrated back to before the app's tables
    policy_applied(BackupPolicy.current())
