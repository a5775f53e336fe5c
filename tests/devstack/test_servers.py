"""The embedded servers the suite itself runs on: started, remembered, and found by settings."""

import pytest
from django.conf import settings

from intelgraph import devstack_state
from intelgraph.config import ConfigError
from tools.devstack import servers


def test_status_reports_both_servers_running():
    statuses = {s.name: s for s in servers.status()}
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
    before = servers.read_state()
    messages = []
    servers.up(echo=messages.append)
    assert servers.read_state() == before
    assert before, "no state file: the servers were never started through devstack"
    assert len(messages) >= len(servers.all_servers()), messages  # one line per server at least
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
            servers.RedisServer().up({})
        except servers.DevstackError as exc:
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
    server = servers.PostgresServer()
    try:
        server.up({})
    except servers.DevstackError as exc:
        assert "not a PostgreSQL data directory" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a stray data directory was accepted")
    assert (stray / "notes.txt").read_text() == "precious"


def test_settings_use_the_urls_the_state_file_remembers():
    # Given the state file the running servers wrote
    state = servers.read_state()
    # When settings read it (through the reader, not the manager)
    urls = devstack_state.running_urls()
    # Then the embedded servers in use are the ones settings connect to
    if settings.EMBEDDED_SERVERS["DATABASE_URL"]:
        assert urls["DATABASE_URL"].endswith(f":{state['postgres']['port']}/{devstack_state.DATABASE_NAME}")
        assert settings.DATABASES["default"]["PORT"] == state["postgres"]["port"]
    if settings.EMBEDDED_SERVERS["REDIS_URL"]:
        assert settings.REDIS_URL.startswith(f"redis://127.0.0.1:{state['redis']['port']}/")
    if settings.EMBEDDED_SERVERS["GRAPH_URL"]:
        assert settings.GRAPH_URL == urls["GRAPH_URL"] == f"falkordb://127.0.0.1:{state['redis']['port']}"


def test_unreadable_state_file_is_a_configuration_error_naming_it(monkeypatch, tmp_path):
    # Given a state file that is not JSON
    monkeypatch.setenv("IG_VAR_DIR", str(tmp_path))
    devstack_state.state_path().write_text("{not json")
    # When settings' reader and the manager read it, then both name the file and say what to do
    with pytest.raises(ConfigError, match=r"devstack\.json is unreadable .*delete it"):
        devstack_state.running_urls()
    with pytest.raises(servers.DevstackError, match=r"devstack\.json is unreadable"):
        servers.status()


def test_no_state_file_means_no_embedded_urls(monkeypatch, tmp_path):
    monkeypatch.setenv("IG_VAR_DIR", str(tmp_path))
    assert devstack_state.running_urls() == {}
