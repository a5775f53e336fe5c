"""Administrator scripting: create_tenant, create_user --token, ensure_admin."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.core.models import Membership, Tenant, User

pytestmark = pytest.mark.django_db


def run(*args):
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_tenant_and_user_with_token_on_last_line(client):
    run("create_tenant", "acme", "--name", "Acme Corp")
    output = run("create_user", "ingest", "--tenant", "acme", "--role", "analyst", "--clearance", "secret", "--token")
    token = output.strip().splitlines()[-1]
    assert token.startswith("igt_")
    membership = Membership.objects.get(user__username="ingest")
    assert (membership.role, membership.clearance) == ("analyst", 3)
    response = client.post(
        "/graphql",
        data=json.dumps({"query": "{ apiVersion }"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create_user", "x", "--tenant", "nope", "--role", "analyst"], "unknown tenant 'nope'"),
        (["create_user", "bad name!", "--tenant", "acme", "--role", "analyst"], "username"),
        (["create_user", "y", "--tenant", "acme", "--role", "analyst", "--clearance", "cosmic"], "Unknown sensitivity"),
        (["create_tenant", "Bad Slug"], "lower-case"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(args, message):
    Tenant.objects.create(slug="acme", name="Acme")
    users = User.objects.count()
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert User.objects.count() == users
    assert Tenant.objects.count() == 1


def test_unknown_role_is_refused_by_the_parser():
    with pytest.raises(CommandError, match="invalid choice"):
        run("create_user", "z", "--tenant", "acme", "--role", "emperor")


def test_ensure_admin_is_idempotent(settings, tmp_path, monkeypatch):
    settings.VAR_DIR = tmp_path
    monkeypatch.delenv("IG_ADMIN_PASSWORD", raising=False)
    Tenant.objects.create(slug="acme", name="Acme")
    first = run("ensure_admin")
    password = (tmp_path / "admin-password").read_text().strip()
    assert password in first
    second = run("ensure_admin")
    assert "created" not in second and password in second
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    assert admin.memberships.get().role == "admin"
