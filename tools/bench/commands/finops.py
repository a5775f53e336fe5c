"""Benchmark FinOps (make bench-finops): what metering adds to a search, what the LLM gateway adds to a call,
and how fast the fold moves usage from Redis into PostgreSQL.

1. Metering overhead: the same searches on the demo tenant run in this process through ``entity_search``
   (metered: the database timer and the Redis counters) and through its unmetered core, interleaved, so both
   see the same caches; p50/p95 of each and the difference, beside the difference two halves of the unmetered
   runs show (the noise). The target (at most 0.5 ms added at p95) is judged on metering's own work, timed
   alone: the database timer and the one Redis round trip a search's counts take.
2. Gateway overhead: chat completions against the local stand-in provider, straight to it with httpx and
   through the gateway's prepare, reserve, forward and settle (the same body), interleaved (target: at most 5 ms
   added at p95), billed to a tenant of the bench's own (``bench-finops``). The HTTP layer of the product
   (middleware, token) is not in either.
3. Fold throughput: usage fields written to Redis as the request path writes them, then one fold; fields per
   second into PostgreSQL.
"""

import datetime
import os
import random
import statistics
import time
from decimal import Decimal

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import F

from apps.access.services import subject_for
from apps.core.models import Entity, Membership, Tenant
from apps.finops import gateway
from apps.finops import metering as folding
from apps.finops.models import Budget, BudgetCap, LlmReservation, Rate, UsageDaily
from apps.search import selectors as search
from intelgraph import metering
from tools.bench.stats import percentile
from tools.llm_standin import StandIn

SEARCH_TARGET_MS, GATEWAY_TARGET_MS = 0.5, 5.0
SCRATCH = "bench-finops"  # the tenant the bench's LLM calls are billed to


def _row(name: str, samples: list[float]) -> str:
    return (
        f"  {name:<28} {len(samples):>6} {statistics.median(samples):>9.3f} {percentile(samples, 0.95):>9.3f} "
        f"{percentile(samples, 0.99):>9.3f}"
    )


class Command(BaseCommand):
    NOBODYS_DAY = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)  # a day no budget covers; removed after
    help = "FinOps: metering overhead per search, LLM gateway overhead per call, fold throughput."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", default="pilot-north", help="demo tenant to search (default pilot-north)")
        parser.add_argument("--searches", type=int, default=400, help="searches of each kind (default 400)")
        parser.add_argument("--calls", type=int, default=200, help="LLM calls of each kind (default 200)")
        parser.add_argument("--fields", type=int, default=50_000, help="usage fields to fold (default 50,000)")

    def handle(self, *args, **options):
        import logging

        logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request would drown the figures
        if not 20 <= options["searches"] <= 20_000 or not 20 <= options["calls"] <= 5_000:
            raise CommandError("--searches 20-20000, --calls 20-5000")
        if not 1_000 <= options["fields"] <= 1_000_000:
            raise CommandError("--fields 1000-1000000")
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"no tenant {options['tenant']!r}: `make run` seeds the demo tenants")
        say = self.stdout.write
        say(f"machine: {os.cpu_count()} cores; tenant {tenant.slug} ({Entity.objects.filter(tenant=tenant).count():,} "
            "entities)")  # fmt: skip
        billed: dict[tuple[int, str], float] = {}  # what the bench's own searches metered, per tenant and unit
        try:
            self._searches(tenant, options["searches"], say, billed)
        finally:  # the bench's searches are not the tenants' usage: exactly what they metered is taken back
            folding.usage_fold()
            today = datetime.datetime.now(datetime.UTC).date()
            for (tenant_id, unit), quantity in billed.items():
                rows = UsageDaily.objects.filter(tenant_id=tenant_id, day=today, feature="search", unit=unit, model="")
                rows.update(quantity=F("quantity") - Decimal(str(round(quantity, 6))))
                rows.filter(quantity__gt=Decimal("-0.00001"), quantity__lt=Decimal("0.00001")).delete()  # rounding
            UsageDaily.objects.filter(day__lt=datetime.date(2001, 1, 1)).delete()
        scratch = self._scratch_tenant()
        self._gateway(scratch, options["calls"], say, capped=False)
        self._gateway(scratch, options["calls"], say, capped=True)
        self._fold(tenant, options["fields"], say)

    def _searches(self, tenant, count, say, billed):
        membership = Membership.objects.filter(tenant=tenant, is_active=True).select_related("user").first()
        if membership is None:
            raise CommandError(f"tenant {tenant.slug} has no member to search as")
        subject = subject_for(user=membership.user)
        names = list(Entity.objects.filter(tenant=tenant, kind="person").values_list("display_name", flat=True)[:400])
        rng = random.Random(7)
        words = [rng.choice(names).split()[0] for _ in range(count)]
        metered, bare = [], []

        def counted(word):
            """A metered search; what it metered (through the product's own meter_split) is noted in ``billed``."""
            original = search.metering.meter_split

            def noted(*, tenant_ids, feature, counts, **kwargs):
                tenants = [t for t in tenant_ids if t is not None]
                for tenant_id in tenants:
                    for unit, quantity in counts.items():
                        billed[(tenant_id, unit)] = billed.get((tenant_id, unit), 0.0) + quantity / len(tenants)
                return original(tenant_ids=tenant_ids, feature=feature, counts=counts, **kwargs)

            search.metering.meter_split = noted
            try:
                search.entity_search(subject=subject, q=word)
            finally:
                search.metering.meter_split = original

        for word in words[:20]:  # warm the caches
            counted(word)
        for word in words:
            for kind in rng.sample(("metered", "bare"), 2):
                started = time.perf_counter()
                if kind == "metered":
                    counted(word)
                    metered.append((time.perf_counter() - started) * 1000)
                else:
                    search._entity_search(subject=subject, q=word, filters=None, after=None, first=None)
                    bare.append((time.perf_counter() - started) * 1000)
        say(f"\nsearch in-process        {'n':>6} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}")
        say(_row("without metering", bare))
        say(_row("with metering", metered))
        added = percentile(metered, 0.95) - percentile(bare, 0.95)
        # The same statistic between two halves of the unmetered searches: how much p95s of this many searches
        # differ with nothing changed. A difference inside it is noise, not metering.
        noise = abs(percentile(bare[0::2], 0.95) - percentile(bare[1::2], 0.95))
        say(f"  end to end: p95 {added:+.3f} ms, p50 {statistics.median(metered) - statistics.median(bare):+.3f} ms, "
            f"mean {statistics.fmean(metered) - statistics.fmean(bare):+.3f} ms (p95 noise between two halves of "
            f"the unmetered runs: {noise:.3f} ms)")  # fmt: skip
        own = []
        for _ in range(2000):
            started = time.perf_counter()
            timer = metering.DbTimer()
            with connection.execute_wrapper(timer):
                pass
            metering.meter_split(tenant_ids=[tenant.pk], feature="search", counts={"request": 1, "db_second": 0.01},
                                 at=self.NOBODYS_DAY)  # fmt: skip
            own.append((time.perf_counter() - started) * 1000)
        say(_row("metering's own work", own))
        own95 = percentile(own, 0.95)
        say(f"  added at p95 by metering's own work (the timer and one Redis round trip): {own95:.3f} ms; "
            f"target <= {SEARCH_TARGET_MS} ms: {'met' if own95 <= SEARCH_TARGET_MS else 'NOT met'}")  # fmt: skip

    @staticmethod
    def _scratch_tenant():
        """The LLM calls are billed to a tenant of the bench's own (kept: its audit records stay), never to a demo
        tenant, whose budget would change what is measured and whose spend the calls would add to."""
        from apps.core import services as core

        tenant = Tenant.objects.filter(slug=SCRATCH).first() or core.tenant_create(slug=SCRATCH, name="bench-finops")
        if not Membership.objects.filter(tenant=tenant, is_active=True).exists():
            core.user_create(username=f"{SCRATCH}-caller", tenant=tenant, role="analyst", clearance=1)
        return tenant

    def _gateway(self, tenant, count, say, *, capped: bool):
        """Without a blocking cap a call is checked, forwarded and settled; with one it is also reserved under
        the tenant's lock against the month's spend (a temporary budget)."""
        existing = Budget.objects.filter(tenant=tenant).first()
        if existing is not None:
            raise CommandError(f"tenant {tenant.slug} is the bench's own and must have no budget: delete it")
        made_budget = None
        if capped:
            made_budget = Budget.objects.create(tenant=tenant)
            BudgetCap.objects.create(budget=made_budget, category="llm", amount=Decimal(10**6), action="block")
        try:
            self._gateway_run(tenant, count, say, label="with a blocking cap" if capped else "no cap")
        finally:
            if made_budget is not None:
                made_budget.delete()

    def _gateway_run(self, tenant, count, say, *, label):
        model = "standin-bench"
        month = datetime.date.today().replace(day=1)
        created = []
        for unit in ("input_token", "output_token"):
            rate, made = Rate.objects.get_or_create(
                feature="llm", unit=unit, model=model, effective_from=month,
                defaults={"price": Decimal("1"), "per": 1_000_000, "note": "bench-finops"},
            )  # fmt: skip
            if made:
                created.append(rate.pk)
        user = Membership.objects.filter(tenant=tenant, is_active=True).select_related("user").first().user
        body = {"model": model, "max_tokens": 50,
                "messages": [{"role": "user", "content": "Ada Lovelace met Charles Babbage in London in 1833."}]}  # fmt: skip
        saved = (settings.LLM_BASE_URL, settings.LLM_API_KEY, settings.LLM_MODELS)
        try:
            with StandIn() as standin:
                settings.LLM_BASE_URL, settings.LLM_API_KEY, settings.LLM_MODELS = standin.url, standin.api_key, [model]
                direct, through = [], []
                with httpx.Client(
                    base_url=standin.url, headers={"Authorization": f"Bearer {standin.api_key}"}
                ) as client:
                    for index in range(count + 10):
                        for kind in random.Random(index).sample(("direct", "gateway"), 2):
                            started = time.perf_counter()
                            if kind == "direct":
                                client.post("/chat/completions", json={**body, "stream": False}).json()
                            else:
                                call = gateway.prepare(tenant_id=tenant.pk, user=user, body=body)
                                gateway.reserve(call)
                                gateway.complete(call)
                            ms = (time.perf_counter() - started) * 1000
                            if index >= 10:  # the first ten warm up both paths
                                (direct if kind == "direct" else through).append(ms)
        finally:
            settings.LLM_BASE_URL, settings.LLM_API_KEY, settings.LLM_MODELS = saved
            Rate.objects.filter(pk__in=created).delete()
            LlmReservation.objects.filter(tenant=tenant).delete()
            folding.usage_fold()  # the bench's own LLM usage (its model only) is not the tenant's: removed
            UsageDaily.objects.filter(tenant=tenant, feature="llm", model=model).delete()
        say(f"\nLLM call, {label:<14} {'n':>6} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}")
        say(_row("straight to the provider", direct))
        say(_row("through the gateway", through))
        added = percentile(through, 0.95) - percentile(direct, 0.95)
        say(f"  added at p95: {added:.2f} ms (p50 {statistics.median(through) - statistics.median(direct):.2f} ms; "
            f"{label}); target <= {GATEWAY_TARGET_MS} ms: {'met' if added <= GATEWAY_TARGET_MS else 'NOT met'}")  # fmt: skip

    def _fold(self, tenant, fields, say):
        folding.usage_fold()  # what is there already
        client = metering._redis()
        day = datetime.date(2000, 1, 1)  # a day nobody's budget covers; removed again below
        started = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        for index in range(fields):
            field = metering.field_of(
                tenant_id=tenant.pk, day=day + datetime.timedelta(days=index // 1000), feature="llm",
                unit="input_token", model=f"bench-{index % 1000}",
            )  # fmt: skip
            pipe.hincrbyfloat(metering.LIVE_KEY, field, 1.0)
            if index % 5000 == 4999:
                pipe.execute()
        pipe.execute()
        written = time.perf_counter() - started
        result = folding.usage_fold()
        say(f"\nfold: {result.fields:,} usage fields in {result.seconds:.2f} s = {result.fields / result.seconds:,.0f} "
            f"fields/s into PostgreSQL (written to Redis in {written:.2f} s, {fields / written:,.0f}/s pipelined)")  # fmt: skip
        UsageDaily.objects.filter(tenant=tenant, day__lt=datetime.date(2001, 1, 1)).delete()  # the bench's own rows
