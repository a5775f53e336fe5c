import pytest

from tests import factories


@pytest.fixture
def tenant_a(db):
    return factories.tenant("alpha", name="Alpha Bank")


@pytest.fixture
def tenant_b(db):
    return factories.tenant("bravo", name="Bravo Insurance")


@pytest.fixture(scope="session", autouse=True)
def _graph_test_keys_removed():
    """Test graphs live in the embedded server under GRAPH_NAME (intelgraph_test:*); leave none behind."""
    yield
    from django.conf import settings

    from apps.graph.store import get_store

    store = get_store()
    connection = getattr(store, "_db", None)
    if connection is not None:
        for key in connection.connection.scan_iter(f"{settings.GRAPH_NAME}:*"):
            connection.connection.delete(key)
