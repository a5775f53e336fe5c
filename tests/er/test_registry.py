"""The model registry: content-addressed, immutable, verified on load; pins, staged rollout and revert."""

import hashlib

import pytest
from django.core.files.storage import default_storage

from apps.audit.models import AuditEvent
from apps.er import services as er
from apps.er.choices import PinMode
from apps.er.models import CandidatePair, ModelArtifact
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def artifacts():
    made = [
        er.model_register(
            data=f'{{"model":"fs","version":{n}}}'.encode(),
            model_id=f"fs-v{n}",
            metadata={"metrics": {"f1": 0.9 + n / 100}},
        )
        for n in (1, 2, 3)
    ]
    yield made
    for artifact in made:
        default_storage.delete(artifact.uri)


def test_the_address_is_the_sha256_of_the_bytes_and_registering_twice_is_one_artifact(artifacts):
    data = b'{"model":"fs","version":1}'
    assert artifacts[0].sha256 == hashlib.sha256(data).hexdigest()
    again = er.model_register(data=data, model_id="another name")
    assert again.pk == artifacts[0].pk and ModelArtifact.objects.count() == 3
    assert er.model_bytes(artifacts[0]) == data
    assert AuditEvent.objects.filter(event_type="er.model_registered").count() == 3


def test_tampered_bytes_are_refused_and_audited(artifacts):
    with default_storage.open(artifacts[1].uri, "wb") as handle:
        handle.write(b'{"model":"fs","version":2,"evil":true}')
    with pytest.raises(er.ModelIntegrityError, match="corrupt or tampered"):
        er.model_bytes(artifacts[1])
    refused = AuditEvent.objects.get(event_type="er.model_refused")
    assert refused.payload["sha256"] == artifacts[1].sha256 and "hash mismatch" in refused.payload["problem"]


def test_a_model_of_another_feature_set_is_refused_audited_and_runs_fall_back_to_rules(tenant_a):
    import json

    from apps.er import runs
    from apps.er.engine import default_model_bytes

    older = json.loads(default_model_bytes())  # as features v2 wrote it: birth dates without one_edit_decades
    (birth,) = [f for f in older["kinds"]["person"]["features"] if f["name"] == "birth_date"]
    at = birth["levels"].index("one_edit_decades")
    del birth["levels"][at], birth["weights"][at]
    artifact = er.model_register(data=json.dumps(older).encode(), model_id="made for another engine")
    er._loaded.clear()
    er._incompatible.clear()
    with pytest.raises(er.ModelIntegrityError, match="cannot be used by this engine"):
        er.model_load(artifact.sha256)
    assert "incompatible" in AuditEvent.objects.get(event_type="er.model_refused").payload["problem"]
    with pytest.raises(er.ModelIntegrityError, match="cannot be used by this engine"):
        er.model_load(artifact.sha256)  # refused again, audited once
    assert AuditEvent.objects.filter(event_type="er.model_refused").count() == 1
    er.pin_set(tenant=tenant_a, artifact=artifact, actor=None)
    assert runs.scorer_for(tenant_a).by_rules
    default_storage.delete(artifact.uri)


@pytest.mark.parametrize(("data", "name", "message"), [(b"", "x", "needs its bytes"), (b"{}", " ", "Give the model")])
def test_bad_registrations_are_refused(data, name, message):
    with pytest.raises(er.ERError, match=message):
        er.model_register(data=data, model_id=name)
    assert not ModelArtifact.objects.exists()


def test_ga_canary_shadow_and_revert(artifacts, tenant_a, tenant_b):
    v1, v2, v3 = artifacts
    assert er.pin_current(tenant=tenant_a) is None
    er.pin_set(tenant=None, artifact=v1)  # GA
    assert er.pin_current(tenant=tenant_a).artifact == v1
    er.pin_set(tenant=tenant_a, artifact=v2, note="canary")  # one tenant first
    assert er.pin_current(tenant=tenant_a).artifact == v2 and er.pin_current(tenant=tenant_b).artifact == v1
    er.pin_set(tenant=tenant_b, artifact=v3, mode=PinMode.SHADOW)
    assert er.pin_current(tenant=tenant_b, mode=PinMode.SHADOW).artifact == v3
    assert er.pin_current(tenant=tenant_b).artifact == v1  # shadow decides nothing
    assert er.rollout_of(v2) == {"ga": False, "canary": ["alpha"], "shadow": []}
    assert er.rollout_of(v3) == {"ga": False, "canary": [], "shadow": ["bravo"]}
    assert er.rollout_of(v1)["ga"] is True
    reverted = er.pin_revert(tenant=tenant_a)
    assert reverted.artifact is None or reverted.artifact == v1
    assert er.pin_current(tenant=tenant_a).artifact == v1  # back on GA
    with pytest.raises(er.ERError, match="no earlier pin"):
        er.pin_revert(tenant=None)
    assert AuditEvent.objects.filter(event_type="er.model_pinned").count() == 4


def test_thresholds_history_and_what_if(tenant_a):
    er.thresholds_set(tenant=tenant_a, auto_merge=0.97, review=0.6)
    people = sorted((factories.entity(tenant=tenant_a, name=f"P{i}") for i in range(4)), key=lambda e: str(e.pk))
    for score, (a, b) in zip((0.99, 0.95, 0.8, 0.65), zip(people, people[1:] + people[:1], strict=True), strict=True):
        factories.candidate_pair(tenant=tenant_a, a=a, b=b, score=score)
    effect = er.what_if(tenant=tenant_a, auto_merge=0.9, review=0.7)
    assert effect == {"auto_merges_added": 1, "auto_merges_undone": 0, "review_before": 3, "review_after": 1}
    er.thresholds_set(tenant=tenant_a, auto_merge=0.9, review=0.7)
    assert er.settings_for(tenant=tenant_a).history.count() >= 2
    with pytest.raises(Exception, match="below the auto-merge threshold"):
        er.thresholds_set(tenant=tenant_a, auto_merge=0.5, review=0.7)
    with pytest.raises(Exception, match="between 0 and 1"):
        er.thresholds_set(tenant=tenant_a, auto_merge=1.5, review=0.7)
    assert er.settings_for(tenant=tenant_a).auto_merge_threshold == 0.9


def test_what_if_for_a_model_rescores_recorded_pairs(tenant_a):
    from apps.er import engine

    er.thresholds_set(tenant=tenant_a, auto_merge=0.97, review=0.6)
    ada = {"given_name": "Ada", "family_name": "Lovelace", "birth_date": "1815-12-10", "email": "ada@example.org"}
    a = factories.entity(tenant=tenant_a, name="Ada Lovelace", attributes=ada)
    b = factories.entity(tenant=tenant_a, name="Ada Lovelace", attributes=ada)
    factories.candidate_pair(tenant=tenant_a, a=a, b=b, score=0.61)  # recorded low
    artifact = er.model_register(data=engine.default_model_bytes(), model_id="default")
    effect = er.what_if_model(tenant=tenant_a, artifact=artifact, auto_merge=0.9)
    assert effect == {"pairs": 1, "auto_merges_added": 1, "auto_merges_undone": 0, "threshold": 0.9}
    assert CandidatePair.objects.get().score == 0.61  # nothing written
