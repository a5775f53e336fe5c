"""The one signed cursor (``intelgraph.cursors``) and its two users, search and the graph."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from django.conf import settings

from apps.access.services import subject_for
from apps.core.choices import Role, Sensitivity
from apps.graph import selectors as graph
from apps.graph.store import PostgresAdjacency
from apps.search import cursors as search_cursors
from intelgraph import cursors
from tests import factories

NOW = 1_800_000_000.0


def cursor_for(payload=None, *, purpose="test.purpose", query_fingerprint="fp", now=NOW) -> str:
    return cursors.encode(payload or {"o": 3}, purpose=purpose, query_fingerprint=query_fingerprint, now=now)


def code_of(cursor: str, **kwargs) -> str:
    args = {"purpose": "test.purpose", "query_fingerprint": "fp", "now": NOW} | kwargs
    with pytest.raises(cursors.CursorError) as caught:
        cursors.decode(cursor, **args)
    return caught.value.code


def test_a_cursor_gives_back_its_payload():
    cursor = cursor_for({"s": 0.25, "i": "abc"})
    assert cursors.decode(cursor, purpose="test.purpose", query_fingerprint="fp", now=NOW) == {"s": 0.25, "i": "abc"}


@pytest.mark.parametrize("garbage", ["", "garbage", "a.b.c", "!!!.???", None, 42])
def test_garbage_is_an_invalid_cursor(garbage):
    assert code_of(garbage) == cursors.INVALID_CURSOR


def test_a_tampered_body_or_signature_is_an_invalid_cursor():
    body, signature = cursor_for().split(".")
    forged_body = base64.urlsafe_b64encode(json.dumps({"o": 0, "q": "fp", "e": int(NOW) + 60}).encode()).decode()
    assert code_of(f"{forged_body.rstrip('=')}.{signature}") == cursors.INVALID_CURSOR
    other_signature = signature[:-2] + ("BB" if signature.endswith("AA") else "AA")
    assert code_of(f"{body}.{other_signature}") == cursors.INVALID_CURSOR


def test_a_cursor_is_bound_to_its_purpose_and_its_query():
    cursor = cursor_for()
    assert code_of(cursor, purpose="another.purpose") == cursors.INVALID_CURSOR
    assert code_of(cursor, query_fingerprint="another-query") == cursors.INVALID_CURSOR


def test_a_cursor_expires_after_its_ttl():
    cursor = cursors.encode({"o": 1}, purpose="p", query_fingerprint="fp", ttl_seconds=60, now=NOW)
    assert cursors.decode(cursor, purpose="p", query_fingerprint="fp", now=NOW + 60) == {"o": 1}
    assert code_of(cursor, purpose="p", now=NOW + 61) == cursors.CURSOR_EXPIRED


def test_the_fingerprint_and_expiry_keys_are_reserved():
    with pytest.raises(ValueError, match="reserved"):
        cursor_for({"q": "mine"})


def test_fingerprints_differ_by_any_part_and_ignore_key_order():
    assert cursors.fingerprint({"a": 1, "b": 2}) == cursors.fingerprint({"b": 2, "a": 1})
    assert cursors.fingerprint("text", {"kind": "person"}) != cursors.fingerprint("text", {"kind": "phone"})


def test_search_cursors_keep_their_wire_format():
    # Given the format search issued before the platform module (so cursors already handed out still decode)
    body = json.dumps({"s": 0.5, "i": "e-1", "q": "fp", "e": int(NOW + 3600)}, separators=(",", ":")).encode()
    key = hashlib.sha256(b"intelgraph.search.cursor:" + settings.SECRET_KEY.encode()).digest()
    signature = hmac.new(key, body, hashlib.sha256).digest()[:16]
    legacy = ".".join(base64.urlsafe_b64encode(x).rstrip(b"=").decode() for x in (body, signature))
    # When search encodes the same position, then it is the same cursor, and it decodes
    position = search_cursors.Position(0.5, "e-1")
    assert search_cursors.encode(position, query_fingerprint="fp", now=NOW) == legacy
    assert search_cursors.decode(legacy, query_fingerprint="fp", now=NOW) == position


def test_search_and_graph_report_an_expired_cursor_alike(tenant_a, monkeypatch):
    # Given a search cursor and a graph neighbourhood cursor, both issued now
    search_cursor = search_cursors.encode(search_cursors.Position(1.0, "e-1"), query_fingerprint="fp")
    center = factories.entity(tenant=tenant_a, name="Cursor Hub")
    for i in range(3):
        phone = factories.entity(tenant=tenant_a, kind="phone", name=f"+1 555 01{i}")
        factories.relationship(tenant=tenant_a, kind="has_phone", from_entity=center, to_entity=phone)
    user = factories.user(tenant=tenant_a, role=Role.ANALYST, clearance=Sensitivity.CONFIDENTIAL)
    subject, store = subject_for(user=user), PostgresAdjacency()
    first = graph.neighborhood(subject=subject, entity_id=center.pk, limit=2, store=store)
    assert first.next_cursor is not None
    assert graph.neighborhood(subject=subject, entity_id=center.pk, limit=2, after=first.next_cursor, store=store)
    # When both are used two hours later
    real = time.time
    monkeypatch.setattr("intelgraph.cursors.time.time", lambda: real() + 7200)
    # Then both say CURSOR_EXPIRED, the code the API documents
    with pytest.raises(search_cursors.CursorError) as from_search:
        search_cursors.decode(search_cursor, query_fingerprint="fp")
    with pytest.raises(graph.GraphInputError) as from_graph:
        graph.neighborhood(subject=subject, entity_id=center.pk, limit=2, after=first.next_cursor, store=store)
    assert from_search.value.code == from_graph.value.code == cursors.CURSOR_EXPIRED
    assert str(from_search.value) == str(from_graph.value)
