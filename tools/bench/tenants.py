"""The large benchmark tenants (seeded once, then reused) and the reader the benchmarks search as.

``make bench-search`` and ``make bench-graph`` share them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from apps.core import demo
from apps.core.models import Tenant, User
from apps.core.services import api_token_issue, membership_set, user_create

REUSE_SHARE = 0.98  # a tenant with at least this share of the wanted entities is reused
READER_CLEARANCE = 2  # confidential: most demo records visible, the secret and top-secret ones not


def bench_tenant_ensure(
    *, slug: str, entities: int, seed: int, progress: Callable[[int], None] | None = None, say=print
) -> Tenant:
    """The benchmark tenant with about ``entities`` demo entities: reused when there, seeded once when not."""
    state = demo.demo_tenant_state(slugs=[slug])[slug]
    if state["entities"] >= entities * REUSE_SHARE:
        say(f"tenant {slug}: {state['entities']:,} entities already loaded, reused")
        return Tenant.objects.get(slug=slug)
    if state["demo_entities"]:
        raise ValueError(
            f"tenant {slug} holds {state['demo_entities']:,} demo entities, not about {entities:,}; reseed it with "
            f"`manage.py seed_demo --slug {slug} --entities {entities} --seed {seed} --replace`, or pick another --tenant"
        )
    say(f"tenant {slug}: loading {entities:,} demo entities (seed {seed}); this takes minutes, once")
    started = time.perf_counter()
    demo.demo_seed(slugs=[slug], entities=entities, seed=seed, replace=False, actor=None, progress=progress)
    say(f"tenant {slug}: loaded in {time.perf_counter() - started:.0f} s")
    return Tenant.objects.get(slug=slug)


def bench_tenant_from_options(options: dict, say=print) -> Tenant:
    """``bench_tenant_ensure`` for a benchmark command's ``--tenant/--entities/--seed/--no-progress``, with a
    progress bar on stderr while it seeds; bad options are a CommandError."""
    import sys

    from django.core.exceptions import ValidationError
    from django.core.management.base import CommandError
    from tqdm import tqdm

    bar = tqdm(total=options["entities"], unit=" entities", unit_scale=True, file=sys.stderr,
               disable=options["no_progress"], desc=f"{options['tenant']} tenant", delay=0.5)  # fmt: skip
    try:
        return bench_tenant_ensure(
            slug=options["tenant"], entities=options["entities"], seed=options["seed"], progress=bar.update, say=say
        )
    except (ValueError, ValidationError) as exc:
        raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from None
    finally:
        bar.close()


def bench_reader_ensure(*, tenant: Tenant, username: str) -> tuple[object, object, str]:
    """A reader with confidential clearance in the tenant (created once), and a fresh API token for this run."""
    user = User.objects.filter(username=username).first()
    if user is None:
        user = user_create(username=username, tenant=tenant, role="reader", clearance=READER_CLEARANCE)
    else:
        membership_set(user=user, tenant=tenant, role="reader", clearance=READER_CLEARANCE)
    token, raw = api_token_issue(user=user, name="make bench-search")
    return user, token, raw
