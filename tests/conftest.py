import pytest

from tests import factories


@pytest.fixture
def tenant_a(db):
    return factories.tenant("alpha", name="Alpha Bank")


@pytest.fixture
def tenant_b(db):
    return factories.tenant("bravo", name="Bravo Insurance")
