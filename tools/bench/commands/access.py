"""Benchmark the access layer: time to filter and redact a page of entities (make bench-access).

Read paths call ``apps.access.selectors.readable``; to show where its time goes this benchmark also times
the engine's steps (``apps.access.decisions``) one by one, then the whole ``readable().page`` call.
"""

import os
import statistics
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from apps.access import decisions as engine
from apps.access import services as access
from apps.access.selectors import RedactedEntity, readable
from apps.core.models import Entity, Tenant
from apps.core.services import membership_set, user_create
from tools.bench.stats import percentile


class _Rollback(Exception):
    pass


class Command(BaseCommand):
    help = (
        "p50/p95 of deciding and redacting pages of 50 and 1,000 demo entities (decision cache cold and warm), "
        "the audit write, and the SQL fetch of the page as the floor."
    )

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

    @staticmethod
    def _decide_and_redact(subject, rows):
        """What a read path does per page, minus the audit write: decide, drop hidden, redact."""
        decisions = engine.decide(subject=subject, resources=rows, action="expand")
        kept = [RedactedEntity(e, decisions[e.pk]) for e in rows if decisions[e.pk].visibility != "hidden"]
        [(item.attributes, item.redactions) for item in kept]
        return decisions

    def _run(self, tenant, rounds):
        user = user_create(username="bench-access-analyst", tenant=tenant, role="reader", clearance=2)
        membership_set(user=user, tenant=tenant, role="reader", clearance=2)
        subject = access.subject_for(user=user)
        # As in a long-running process, where the bundle version was recorded and committed at first use.
        engine.bundle_record_if_new()
        engine._recorded_bundles.add((connection.settings_dict["NAME"], engine.policy.current_bundle().sha256))
        ids = list(Entity.objects.filter(tenant=tenant).order_by("?").values_list("pk", flat=True)[:1000])
        self.stdout.write(
            f"machine: {os.cpu_count()} cores; tenant {tenant.slug}; subject reader, clearance confidential; "
            f"{rounds} rounds per size"
        )
        self.stdout.write(f"{'page':>6} {'step':<28} {'p50 ms':>8} {'p95 ms':>8}")
        for size in (50, 1000):
            page_ids = ids[:size]
            n = rounds if size == 50 else max(10, rounds // 10)
            samples = {
                "SQL fetch (floor)": [],
                "decide+redact, cold": [],
                "decide+redact, warm": [],
                "linked records + names": [],
                "audit event": [],
                "readable().page, warm": [],
            }
            for _ in range(n):
                started = time.perf_counter()
                reader = readable(subject=subject, action="expand", queryset=Entity.objects.filter(pk__in=page_ids))
                rows = list(reader.queryset)
                fetched = time.perf_counter()
                engine.decision_cache.clear()
                cold = self._decide_and_redact(subject, rows)
                cold_done = time.perf_counter()
                warm = self._decide_and_redact(subject, rows)
                warm_done = time.perf_counter()
                # What readable().page adds since issue 11: attributes repeating a linked record the reader
                # may not see, and names with withheld parts marked.
                linked = engine.with_linked_redactions(subject=subject, entities=rows, decisions=warm, action="expand")
                [RedactedEntity(e, linked[e.pk]).display_name for e in rows if linked[e.pk].visibility != "hidden"]
                linked_done = time.perf_counter()
                engine.audit_denials(subject=subject, action="expand", entities=rows, decisions=linked)
                audited = time.perf_counter()
                # The whole public call a read path makes (decide, linked records, audit), cache warm.
                reader.page(rows)
                whole = time.perf_counter()
                assert cold == warm
                samples["SQL fetch (floor)"].append((fetched - started) * 1000)
                samples["decide+redact, cold"].append((cold_done - fetched) * 1000)
                samples["decide+redact, warm"].append((warm_done - cold_done) * 1000)
                samples["linked records + names"].append((linked_done - warm_done) * 1000)
                samples["audit event"].append((audited - linked_done) * 1000)
                samples["readable().page, warm"].append((whole - audited) * 1000)
            for label, values in samples.items():
                self.stdout.write(
                    f"{size:>6} {label:<28} {statistics.median(values):>8.2f} {percentile(values, 0.95):>8.2f}"
                )
            floor = statistics.median(samples["SQL fetch (floor)"])
            self.stdout.write(
                f"{size:>6} ratio to SQL fetch (medians): cold {statistics.median(samples['decide+redact, cold']) / floor:.2f}, "
                f"warm {statistics.median(samples['decide+redact, warm']) / floor:.2f}"
            )
        connection.close()
