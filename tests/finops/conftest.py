import pytest

from intelgraph import metering


@pytest.fixture(autouse=True)
def _empty_counters():
    """Each test starts with no usage counted in Redis (the test database's Redis, DB 1)."""
    client = metering._redis()
    for key in [metering.LIVE_KEY, *client.scan_iter(f"{metering.FOLD_PREFIX}*")]:
        client.delete(key)
    from apps.finops import gateway

    gateway._rates_cache.clear()  # rates are reused for a minute in a process; each test prices its own
    gateway.limits_forget()  # and caps with their spend
    client.delete(gateway.LIMITS_KEY)  # tenant ids repeat in each new test database
    # alert throttling keys of earlier runs (budget ids repeat in each new test database)
    for key in client.scan_iter("*ig:alert:budget:*"):
        client.delete(key)
    yield
    for key in [metering.LIVE_KEY, *client.scan_iter(f"{metering.FOLD_PREFIX}*")]:
        client.delete(key)
