"""The embedded servers the suite itself runs on: started, remembered, and found by settings."""

from django.conf import settings

from intelgraph import devstack


def test_status_reports_both_servers_running():
    statuses = {s.name: s for s in devstack.status()}
    assert set(statuses) == {"postgres", "redis"}
    embedded = [name for name in ("DATABASE_URL", "REDIS_URL") if settings.EMBEDDED_SERVERS[name]]
    if settings.EMBEDDED_SERVERS["DATABASE_URL"]:
        assert statuses["postgres"].running
        assert statuses["postgres"].port == settings.DATABASES["default"]["PORT"]
    if settings.EMBEDDED_SERVERS["REDIS_URL"]:
        assert statuses["redis"].running
    # the suite runs on at least one embedded server, or the checks above checked nothing
    assert embedded, "no embedded server in use: this test would check nothing"


def test_up_is_idempotent_and_keeps_ports():
    before = devstack.read_state()
    messages = []
    devstack.up(echo=messages.append)
    assert devstack.read_state() == before
    assert before, "no state file: the servers were never started through devstack"
    assert len(messages) >= len(devstack.servers()), messages  # one line per server at least
    assert all("running" in line for line in messages if not line.startswith("note:"))


def test_forced_port_in_use_gives_clear_error(monkeypatch, tmp_path):
    # Given a port someone else holds
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    monkeypatch.setenv("IG_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("IG_REDIS_PORT", str(port))
    try:
        # When a server is asked to start on it
        try:
            devstack.RedisServer().up({})
        except devstack.DevstackError as exc:
            message = str(exc)
        else:  # pragma: no cover - the assertion below reports it
            message = ""
    finally:
        holder.close()
    # Then the message names the variable and the port, and nothing started
    assert f"IG_REDIS_PORT={port}" in message
    assert "in use" in message


def test_data_dir_that_is_not_postgres_is_refused_and_kept(monkeypatch, tmp_path):
    monkeypatch.setenv("IG_VAR_DIR", str(tmp_path))
    stray = tmp_path / "postgres" / "data"
    stray.mkdir(parents=True)
    (stray / "notes.txt").write_text("precious")
    server = devstack.PostgresServer()
    try:
        server.up({})
    except devstack.DevstackError as exc:
        assert "not a PostgreSQL data directory" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a stray data directory was accepted")
    assert (stray / "notes.txt").read_text() == "precious"
