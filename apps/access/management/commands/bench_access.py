"""Benchmark the access layer: time to filter and redact a page of entities (make bench-access)."""

import os
import statistics
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from apps.access import services as access
from apps.core.models import Entity, Tenant
from apps.core.services import membership_set, user_create


class _Rollback(Exception):
    pass


def _percentile(samples, q):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Command(BaseCommand):
    help = "p50/p95 of deciding and redacting pages of 50 and 1,000 demo entities, with the SQL fetch as the floor."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", default="pilot-north")
        parser.add_argument("--rounds", type=int, default=200)

    def handle(self, *args, tenant, rounds, **options):
        found = Tenant.objects.filter(slug=tenant).first()
        if found is None or not Entity.objects.filter(tenant=found).exists():
            raise CommandError(f"tenant {tenant!r} has no entities; run `manage.py seed_demo` first")
        if rounds < 10:
            raise CommandError("--rounds must be at least 10")
        try:
            with transaction.atomic():  # everything written here (user, audit events) is rolled back
                self._run(found, rounds)
                raise _Rollback
        except _Rollback:
            pass

    def _run(self, tenant, rounds):
        user = user_create(username="bench-access-analyst", tenant=tenant, role="reader", clearance=2)
        membership_set(user=user, tenant=tenant, role="reader", clearance=2)
        subject = access.subject_for(user=user)
        ids = list(Entity.objects.filter(tenant=tenant).order_by("?").values_list("pk", flat=True)[:1000])
        self.stdout.write(
            f"machine: {os.cpu_count()} cores; tenant {tenant.slug}; subject reader, clearance confidential; "
            f"{rounds} rounds per size"
        )
        self.stdout.write(f"{'page':>6} {'step':<28} {'p50 ms':>8} {'p95 ms':>8}")
        for size in (50, 1000):
            page_ids = ids[:size]
            fetch, decide, redact = [], [], []
            n = rounds if size == 50 else max(10, rounds // 10)
            for _ in range(n):
                started = time.perf_counter()
                rows = list(
                    access.entities_readable(
                        subject=subject, action="expand", queryset=Entity.objects.filter(pk__in=page_ids)
                    )
                )
                fetched = time.perf_counter()
                access.decide(subject=subject, resources=rows, action="expand")
                decided = time.perf_counter()
                access.filter_and_redact(subject=subject, entities=rows, action="expand")
                done = time.perf_counter()
                fetch.append((fetched - started) * 1000)
                decide.append((decided - fetched) * 1000)
                redact.append((done - decided) * 1000)
            for label, samples in (("SQL fetch (floor)", fetch), ("policy decide", decide),
                                   ("filter+redact+audit", redact)):  # fmt: skip
                self.stdout.write(
                    f"{size:>6} {label:<28} {statistics.median(samples):>8.2f} {_percentile(samples, 0.95):>8.2f}"
                )
            ratio = statistics.median(decide) / statistics.median(fetch)
            self.stdout.write(f"{size:>6} policy decide / SQL fetch (median ratio): {ratio:.2f}")
        connection.close()
