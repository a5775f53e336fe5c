"""The search benchmark (make bench-search): the real ASGI server under a fixed request rate.

Open loop: requests are scheduled on a clock (``rate`` per second for ``duration`` seconds)
and sent whether or not earlier ones have answered, so a slow server shows as latency and
errors instead of quietly lowering the rate. Latency is measured from the scheduled send
time, so time a request waited for a free client thread counts too.

The floor is the selector's page query (the same SQL ``entity_search`` fetches a page with)
run on one persistent connection without HTTP, GraphQL, authentication, policy decision,
snippets or the audit write.
"""

from __future__ import annotations

import json
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from apps.core import demo
from apps.core.models import Entity, Tenant

BENCH_SLUG = "bench-search"
BENCH_ENTITIES = 1_000_000
BENCH_SEED = 42
REUSE_SHARE = 0.98  # a tenant with at least this share of the wanted entities is reused


# --------------------------------------------------------------------------- data


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
