"""Batch runs on a tenant: review band, auto-merges only with a purpose, never-merge honoured, decisions not
reopened, and the rules taking over when the pinned model is tampered with."""

import pytest
from django.core.files.storage import default_storage

from apps.access.services import subject_for
from apps.audit.models import AuditEvent
from apps.core.choices import Role
from apps.er import runs
from apps.er import services as er
from apps.er.choices import PairStatus
from apps.er.models import CandidatePair, Merge
from tests import factories

pytestmark = pytest.mark.django_db

PEOPLE = [
    (
        "Ada Lovelace",
        {
            "given_name": "Ada",
            "family_name": "Lovelace",
            "birth_date": "1815-12-10",
            "email": "ada@example.org",
            "national_id": "GB-AL-1815",
        },
    ),
    (
        "Ada Lovelace",
        {
            "given_name": "Ada",
            "family_name": "Lovelace",
            "birth_date": "1815-12-10",
            "email": "ada@example.org",
            "national_id": "GB-AL-1815",
        },
    ),
    (
        "Charles Babbage",
        {
            "given_name": "Charles",
            "family_name": "Babbage",
            "birth_date": "1791-12-26",
            "email": "cb@example.org",
            "national_id": "GB-CB-1791",
        },
    ),
    (
        "Charles Babbage",
        {"given_name": "Charles", "family_name": "Babbage", "birth_date": "1791-12-26", "national_id": "GB-CB-1791"},
    ),
    ("Mary Somerville", {"given_name": "Mary", "family_name": "Somerville", "birth_date": "1780-12-26"}),
]


@pytest.fixture
def tenant(tenant_a):
    for name, attributes in PEOPLE:
        factories.entity(tenant=tenant_a, name=name, attributes=attributes)
    er.thresholds_set(tenant=tenant_a, auto_merge=0.97, review=0.5)
    return tenant_a


def test_without_a_purpose_everything_waits_for_review(tenant):
    result = runs.run(tenant=tenant, kind="person")
    assert result.records == 5 and result.merged_clusters == 0 and not result.by_rules
    pending = CandidatePair.objects.filter(tenant=tenant, status=PairStatus.PENDING)
    assert pending.count() == result.review >= 2
    assert all(p.explanation and p.model_sha == result.model_sha for p in pending)


def test_with_a_purpose_clusters_above_the_threshold_merge(tenant):
    result = runs.run(tenant=tenant, kind="person", purpose="investigation")
    assert result.merged_clusters == 2
    assert Merge.objects.filter(tenant=tenant, automatic=True).count() == 2
    assert CandidatePair.objects.filter(tenant=tenant, status=PairStatus.AUTO_MERGED).count() == 2
    again = runs.run(tenant=tenant, kind="person", purpose="investigation")  # merged members are not roots now
    assert again.records == 3 and again.merged_clusters == 0


def test_rejections_last_across_runs(tenant):
    runs.run(tenant=tenant, kind="person")
    reviewer = factories.user(tenant=tenant, role=Role.REVIEWER)
    subject = subject_for(user=reviewer, purpose="investigation")
    for pair in CandidatePair.objects.filter(tenant=tenant, status=PairStatus.PENDING):
        er.pair_reject(subject=subject, pair=pair, reason="different people after all")
    result = runs.run(tenant=tenant, kind="person", purpose="investigation")
    assert result.merged_clusters == 0 and not Merge.objects.exists()
    assert CandidatePair.objects.filter(tenant=tenant, status=PairStatus.PENDING).count() == 0


def test_a_rerun_keeps_deferrals_and_records_the_same_breakdowns(tenant):
    first = runs.run(tenant=tenant, kind="person")
    pending = list(CandidatePair.objects.filter(tenant=tenant, status=PairStatus.PENDING).order_by("pk"))
    reviewer = factories.user(tenant=tenant, role=Role.REVIEWER)
    er.pair_defer(subject=subject_for(user=reviewer, purpose="investigation"), pair=pending[0], reason="ask the source")
    again = runs.run(tenant=tenant, kind="person")
    assert (again.candidate_pairs, again.review) == (first.candidate_pairs, first.review)
    after = {p.pk: p for p in CandidatePair.objects.filter(tenant=tenant)}
    assert len(after) == len(pending) and after[pending[0].pk].status == PairStatus.DEFERRED
    assert all(after[p.pk].updated_at > p.updated_at for p in pending)  # "scored" moves with each re-run
    scorer = runs.scorer_for(tenant)
    records = runs.records_for(tenant=tenant, kind="person")
    for pair in after.values():  # the run's batch breakdowns are what a reviewer's one-pair breakdown would be
        alone = scorer.model.explain(records[str(pair.entity_a_id)], records[str(pair.entity_b_id)], "person")
        assert pair.explanation == [list(x) for x in alone]


def test_a_pair_only_the_shadow_model_showed_enters_review_when_the_active_model_scores_it(tenant):
    runs.run(tenant=tenant, kind="person")
    pair = CandidatePair.objects.filter(tenant=tenant, status=PairStatus.PENDING).first()
    CandidatePair.objects.filter(pk=pair.pk).update(status=PairStatus.SHADOW, score=0.0, model_sha="")
    runs.run(tenant=tenant, kind="person")
    pair.refresh_from_db()
    assert pair.status == PairStatus.PENDING and pair.score > 0.5 and pair.model_sha


def test_a_tampered_pinned_model_falls_back_to_rules(tenant, settings):
    from django.core.cache import cache

    from apps.er import engine

    settings.ALERT_EMAILS = ["oncall@example.org"]

    artifact = er.model_register(data=engine.default_model_bytes(), model_id="pinned")
    er.pin_set(tenant=tenant, artifact=artifact)
    er._loaded.clear()
    with default_storage.open(artifact.uri, "wb") as handle:
        handle.write(engine.default_model_bytes().replace(b'"', b"'", 1))
    try:
        result = runs.run(tenant=tenant, kind="person", purpose="investigation")
    finally:
        default_storage.delete(artifact.uri)
    assert result.by_rules and result.model_sha == ""
    assert AuditEvent.objects.filter(event_type="er.model_refused").exists()
    assert AuditEvent.objects.filter(event_type="er.rules_fallback").count() == 1
    runs.scorer_for(tenant)  # as every online score would while the pin stays broken: not audited again
    assert AuditEvent.objects.filter(event_type="er.rules_fallback").count() == 1
    cache.delete(f"ig:er-fallback-audited:{tenant.pk}:{artifact.sha256}")
    assert cache.get(f"ig:alert:er-fallback:{tenant.pk}:{artifact.sha256}")  # the alert was raised (and throttles)
    cache.delete(f"ig:alert:er-fallback:{tenant.pk}:{artifact.sha256}")
    # Only the rules' certainty (an identical national id) merges; nothing on a weaker fallback score.
    merges = Merge.objects.filter(tenant=tenant)
    assert merges.count() == 2 and all(m.by_rules for m in merges)


def test_a_model_failing_part_way_merges_nothing_automatically(tenant, monkeypatch):
    real = runs.scorer_for(tenant)

    class Flaky:  # scores the first pair, then fails as a broken scorer would
        calls = 0

        def score(self, *args):
            Flaky.calls += 1
            if Flaky.calls > 1:
                raise RuntimeError("scorer went away")
            return real.model.score(*args)

        def __getattr__(self, name):
            return getattr(real.model, name)

    monkeypatch.setattr(runs, "scorer_for", lambda t: runs.Scorer(Flaky(), real.sha, False))
    result = runs.run(tenant=tenant, kind="person", purpose="investigation", pairs_per_block=1)
    assert result.by_rules and result.merged_clusters == 0 and not Merge.objects.exists()
    assert any("failed during the run" in note for note in result.notes)
    assert CandidatePair.objects.filter(tenant=tenant, status=PairStatus.PENDING).count() == result.review >= 1


def test_a_shadow_model_is_scored_and_measured_against_reviewers(tenant):
    from apps.er import engine
    from apps.er.choices import PinMode

    shadow = er.model_register(data=engine.default_model_bytes(), model_id="candidate")
    er.pin_set(tenant=tenant, artifact=shadow, mode=PinMode.SHADOW)
    runs.run(tenant=tenant, kind="person")
    pending = list(CandidatePair.objects.filter(tenant=tenant, status=PairStatus.PENDING))
    assert pending and all(p.shadow_model_sha == shadow.sha256 and p.shadow_score is not None for p in pending)
    assert not Merge.objects.exists()  # shadow decides nothing
    reviewer = factories.user(tenant=tenant, role=Role.REVIEWER)
    subject = subject_for(user=reviewer, purpose="investigation")
    top = max(pending, key=lambda p: p.score)
    er.pair_approve(subject=subject, pair=top, reason="same")
    low = min(pending, key=lambda p: p.score)
    er.pair_reject(subject=subject, pair=low, reason="different")
    record = er.shadow_record(artifact=shadow)
    assert record["decided"] == 2 and record["scored"] >= 2
    # The shadow model called both matches (above 0.5): it agrees with the approval, not with the rejection.
    assert record["agreement"] == 0.5
    auto = [p for p in (top, low) if p.shadow_score >= 0.97]
    assert record["would_auto_merge"] == len(auto)
    assert record["precision"] == (sum(p is top for p in auto) / len(auto) if auto else None)
