"""Health, readiness and metrics endpoints; configuration errors; production settings."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    body = client.get("/readyz").json()
    assert body["status"] == "ready", body
    assert set(body["checks"]) == {"postgres", "migrations", "redis", "graph", "graph_outbox", "audit_sealing"}
    assert body["checks"]["graph"]["backend"] in ("falkordb", "neo4j")


@pytest.mark.django_db
def test_readyz_reports_unreachable_redis(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is False


@pytest.mark.django_db
def test_metrics_exposes_request_latency(client):
    client.get("/healthz")
    text = client.get("/metrics").content.decode()
    assert 'ig_http_request_duration_seconds_bucket{le="0.005",method="GET",route="healthz",status="200"}' in text


def test_metrics_files_of_ended_processes_are_cleaned_and_live_ones_kept(tmp_path):
    from intelgraph.metrics import clean_multiprocess_dir

    live, dead = tmp_path / f"counter_{os.getpid()}.db", tmp_path / "counter_999999999.db"
    live.write_bytes(b"x")
    dead.write_bytes(b"x")
    assert clean_multiprocess_dir(tmp_path) == 1 and live.exists() and not dead.exists()


@pytest.mark.django_db
def test_metrics_add_up_the_counters_of_every_process(client, tmp_path, monkeypatch):
    # Two other processes (as Celery workers or er_run would be) count ER merges; the web process shows the sum.
    code = "from apps.er.services import ER_MERGES; ER_MERGES.labels('acme', 'auto').inc(3)"
    for _ in range(2):
        done = manage("shell", "-c", code, env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)})
        assert done.returncode == 0, done.stderr
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = client.get("/metrics").content.decode()
    assert 'ig_er_merges_total{how="auto",tenant="acme"} 6.0' in text


def manage(*args, env=None):
    return python("manage.py", *args, env=env)


def python(*args, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    full_env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ig-metrics-")  # never the developer's var/
    full_env.update(env or {})
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120)


def production_env():
    import base64
    import secrets

    return {
        "DJANGO_ENV": "production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "intelgraph.example.com",
        "DATABASE_URL": "postgres://ig:pw@db.internal:5432/intelgraph",
        "REDIS_URL": "redis://redis.internal:6379/0",
        "GRAPH_URL": "neo4j://neo4j.internal:7687",
        "AUDIT_SIGNING_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        # settings only require them; GnuPG reads the key when a backup or drill first needs it
        "BACKUP_GPG_KEY": "-----BEGIN PGP PRIVATE KEY BLOCK-----\n(from the secrets manager)\n-----END PGP PRIVATE KEY BLOCK-----",
        "BACKUP_GPG_PASSPHRASE": secrets.token_urlsafe(24),
    }


def production_env_without(name: str) -> dict:
    return {key: value for key, value in production_env().items() if key != name}


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DJANGO_ENV": "staging-ish"}, "DJANGO_ENV"),
        ({"DATABASE_URL": "mysql://nope"}, "DATABASE_URL"),
        ({"REDIS_URL": "redis://host:notaport/0"}, "REDIS_URL"),
        ({"GRAPH_URL": "http://graph"}, "GRAPH_URL"),
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG"),
        ({"AUDIT_SIGNING_KEY": "not base64!"}, "AUDIT_SIGNING_KEY"),
        ({"DJANGO_ENV": "production"}, "DJANGO_SECRET_KEY"),
        ({**production_env_without("BACKUP_GPG_KEY")}, "BACKUP_GPG_KEY"),
    ],
)
def test_malformed_environment_is_one_line_naming_the_variable(env, variable):
    result = manage("check", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"configuration error: {variable}:")


def test_check_deploy_is_clean_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_needs_no_development_tooling():
    # Given a deployment without tools/ (the embedded servers' manager, the benchmarks): importing it fails
    manage_without_tools = (
        "import runpy, sys; sys.modules['tools'] = None; "
        "sys.argv = ['manage.py', 'check', '--deploy', '--fail-level', 'WARNING']; "
        "runpy.run_path('manage.py', run_name='__main__')"
    )
    # When production settings load and the deploy check runs
    result = python("-c", manage_without_tools, env=production_env())
    # Then nothing asked for it
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_collectstatic_with_production_storage_succeeds(tmp_path):
    """The manifest storage hashes every static file and refuses references to missing ones (a vendored
    bundle naming a source map that is not there stopped it)."""
    result = manage("collectstatic", "--noinput", "-v0", env={**production_env(), "IG_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = tmp_path / "staticfiles" / "staticfiles.json"
    assert "explorer/explorer.js" in manifest.read_text()


def test_manage_without_servers_says_how_to_start_them(tmp_path):
    result = manage("migrate", env={"IG_VAR_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "devstack up" in result.stderr
