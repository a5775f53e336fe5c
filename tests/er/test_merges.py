"""Merges and their rollback: canonical entities, re-pointed relationships, exact restoration (checksums),
chained merges, never-merge constraints, and the checks a reviewer's approval must pass."""

import pytest

from apps.access.services import subject_for
from apps.audit.models import AuditEvent
from apps.core import services
from apps.core.choices import Role, Sensitivity
from apps.core.models import Entity, Relationship
from apps.er import services as er
from apps.er.choices import PairStatus
from apps.er.models import Merge
from apps.graph.models import OutboxEvent
from tests import factories

pytestmark = pytest.mark.django_db


def link(tenant, kind, a, b):
    return services.relationship_create(tenant=tenant, kind=kind, from_entity=a, to_entity=b)


@pytest.fixture
def world(tenant_a):
    t = tenant_a
    people = {
        "A": factories.entity(
            tenant=t, name="Ada Lovelace", attributes={"given_name": "Ada", "birth_date": "1815-12-10"}
        ),
        "B": factories.entity(
            tenant=t,
            name="Ada King",
            attributes={"given_name": "Ada", "birth_date": "1815-12-10", "email": "ada@example.org"},
        ),
        "D": factories.entity(tenant=t, name="A. Lovelace", attributes={"given_name": "Ada"}),
        "E": factories.entity(tenant=t, name="Augusta Ada", attributes={"given_name": "Augusta"}),
        "F": factories.entity(tenant=t, name="Augusta A. King", attributes={"given_name": "Augusta"}),
    }
    org = factories.entity(tenant=t, kind="organization", name="Analytical Engines Ltd")
    home = factories.entity(tenant=t, kind="address", name="12 St James's Square")
    edges = {
        "A-org": link(t, "works_for", people["A"], org),
        "home-B": link(t, "registered_at", home, people["B"]),
        "A-B": link(t, "associated_with", people["A"], people["B"]),
        "E-org": link(t, "works_for", people["E"], org),
    }
    reviewer = factories.user(tenant=t, role=Role.REVIEWER, clearance=Sensitivity.TOP_SECRET)
    return {
        "t": t,
        **people,
        "org": org,
        "home": home,
        "edges": edges,
        "reviewer": reviewer,
        "subject": subject_for(user=reviewer, purpose="investigation"),
    }


def everything(world):
    ids = [e.pk for e in Entity.objects.filter(tenant=world["t"])]
    return er.state_checksum(
        entity_ids=ids, edge_ids=Relationship.objects.filter(tenant=world["t"]).values_list("pk", flat=True)
    )


def merge(world, *names, **kwargs):
    return er.merge_materialize(
        tenant=world["t"],
        entities=[world[n] if isinstance(n, str) else n for n in names],
        actor=world["reviewer"],
        purpose="investigation",
        **kwargs,
    )


def fresh(entity):
    return Entity.objects.get(pk=entity.pk)


def test_a_merge_creates_a_canonical_entity_and_repoints_outside_relationships(world):
    m = merge(world, "A", "B", model_sha="f" * 64, score=0.99, threshold=0.97)
    canonical = fresh(m.canonical)
    assert m.created_canonical and canonical.kind == "person"
    assert fresh(world["A"]).merged_into_id == fresh(world["B"]).merged_into_id == canonical.pk
    # Survivorship: agreed values, and values only one member has
    assert canonical.attributes == {"given_name": "Ada", "birth_date": "1815-12-10", "email": "ada@example.org"}
    edges = {k: Relationship.objects.get(pk=v.pk) for k, v in world["edges"].items()}
    assert (edges["A-org"].from_entity_id, edges["A-org"].to_entity_id) == (canonical.pk, world["org"].pk)
    assert (edges["home-B"].from_entity_id, edges["home-B"].to_entity_id) == (world["home"].pk, canonical.pk)
    assert (edges["A-B"].from_entity_id, edges["A-B"].to_entity_id) == (world["A"].pk, world["B"].pk)  # inside
    event = AuditEvent.objects.filter(event_type="er.merged").latest("seq")
    assert event.payload["model"] == "f" * 64 and event.payload["purpose"] == "investigation"
    assert event.payload["threshold"] == 0.97 and event.payload["bundle"]
    assert OutboxEvent.objects.filter(object_id=canonical.pk).exists()


def test_rollback_restores_the_exact_prior_state(world):
    before = everything(world)
    m = merge(world, "A", "B")
    assert everything(world) != before
    plan = er.rollback_plan(merge=m)
    assert [x.pk for x in plan.merges] == [m.pk] and "undo 1 merge(s)" in plan.summary
    er.merge_rollback(merge=m, subject=world["subject"], reason="wrong person")
    assert everything(world) == before
    assert not Entity.objects.filter(pk=m.canonical_id).exists()  # the canonical entity went with the merge
    m.refresh_from_db()
    assert m.rolled_back_at and m.rollback_reason == "wrong person"
    with pytest.raises(er.ERError, match="already rolled back"):
        er.merge_rollback(merge=m, subject=world["subject"], reason="again")
    assert everything(world) == before


def test_merging_into_an_existing_canonical_entity_keeps_its_id(world):
    first = merge(world, "A", "B")
    second = merge(world, "D", "A")  # A belongs to the first cluster: D joins it
    assert second.canonical_id == first.canonical_id and not second.created_canonical
    assert fresh(world["D"]).merged_into_id == first.canonical_id
    with pytest.raises(er.ERError, match="already merged"):
        merge(world, "D", "B")


def test_chained_merges_roll_back_newest_first_with_a_dry_run(world):
    before = everything(world)
    first = merge(world, "A", "B")
    merge(world, "D", "B")  # extends the first cluster
    other = merge(world, "E", "F")
    merge(world, "A", "E")  # the two clusters become one: the newer canonical is absorbed by the older
    assert fresh(Entity.objects.get(pk=other.canonical_id)).merged_into_id == first.canonical_id
    plan = er.rollback_plan(merge=first)
    assert len(plan.merges) == 4 and plan.merges[-1].pk == first.pk  # everything built on it, newest first
    assert everything(world) != before
    er.merge_rollback(merge=first, subject=world["subject"], reason="the first link was wrong")
    assert everything(world) == before
    assert Merge.objects.filter(tenant=world["t"], rolled_back_at=None).count() == 0


def test_a_rejection_is_a_lasting_never_merge(world):
    pair = factories.candidate_pair(tenant=world["t"], a=world["A"], b=world["E"], score=0.8)
    er.pair_reject(subject=world["subject"], pair=pair, reason="different birth years")
    pair.refresh_from_db()
    assert pair.status == PairStatus.REJECTED
    with pytest.raises(er.ERError, match="never-merge"):
        merge(world, "A", "E")
    merge(world, "A", "B")
    with pytest.raises(er.ERError, match="never-merge"):  # nor through the cluster A now belongs to
        merge(world, "B", "E")


def test_approval_checks_role_purpose_and_threshold(world):
    er.thresholds_set(tenant=world["t"], auto_merge=0.97, review=0.7)
    pair = factories.candidate_pair(tenant=world["t"], a=world["A"], b=world["B"], score=0.9, model_sha="a" * 64)
    analyst = factories.user(tenant=world["t"], role=Role.ANALYST)
    with pytest.raises(er.ERError, match="reviewer role"):
        er.pair_approve(subject=subject_for(user=analyst, purpose="investigation"), pair=pair)
    with pytest.raises(er.ERError, match="needs a declared purpose"):
        er.pair_approve(subject=subject_for(user=world["reviewer"]), pair=pair)
    low = factories.candidate_pair(tenant=world["t"], a=world["D"], b=world["E"], score=0.5)
    with pytest.raises(er.ERError, match="below this tenant's review threshold"):
        er.pair_approve(subject=world["subject"], pair=low)
    assert not Merge.objects.exists()
    done = er.pair_approve(subject=world["subject"], pair=pair, reason="same birth date and email")
    pair.refresh_from_db()
    assert pair.status == PairStatus.APPROVED and done.pair_id == pair.pk and done.model_sha == "a" * 64
    with pytest.raises(er.ERError, match="already approved"):
        er.pair_approve(subject=world["subject"], pair=pair)


def test_a_merge_needs_an_investigative_purpose(world):
    with pytest.raises(er.ERError, match="investigation or fraud-risk"):
        er.merge_materialize(tenant=world["t"], entities=[world["A"], world["B"]], purpose="marketing")
    assert not Merge.objects.exists()


def test_entities_of_another_tenant_or_kind_are_refused(world, tenant_b):
    stranger = factories.entity(tenant=tenant_b, name="Ada elsewhere")
    with pytest.raises(er.ERError, match="must belong to its tenant"):
        merge(world, "A", stranger)
    with pytest.raises(er.ERError, match="different kinds"):
        merge(world, "A", "org")


def test_everything_one_model_merged_rolls_back_together(world):
    before = everything(world)
    merge(world, "A", "B", model_sha="1" * 64)
    merge(world, "E", "F", model_sha="1" * 64)
    kept = merge(world, "D", "A", model_sha="2" * 64)  # built on the first: comes undone with it
    plans = er.rollback_model(tenant=world["t"], model_sha="1" * 64, subject=world["subject"], reason="bad model")
    assert sum(len(p.merges) for p in plans) == 3
    kept.refresh_from_db()
    assert kept.rolled_back_at is not None
    assert everything(world) == before
    with pytest.raises(er.ERError, match="No merge by model"):
        er.rollback_model(tenant=world["t"], model_sha="1" * 64, subject=world["subject"], reason="again")


def test_merges_rollbacks_and_decisions_are_counted_once_committed(world, django_capture_on_commit_callbacks):
    from prometheus_client import REGISTRY

    slug = world["t"].slug

    def value(name, **labels):
        return REGISTRY.get_sample_value(name, {"tenant": slug, **labels}) or 0.0

    merges, approvals, rollbacks = (
        value("ig_er_merges_total", how="reviewer"),
        value("ig_er_decisions_total", decision="approved"),
        value("ig_er_rollbacks_total"),
    )
    pair = factories.candidate_pair(tenant=world["t"], a=world["A"], b=world["B"], score=0.95)
    with django_capture_on_commit_callbacks(execute=True):
        done = er.pair_approve(subject=world["subject"], pair=pair, reason="same person")
    assert value("ig_er_merges_total", how="reviewer") == merges + 1
    assert value("ig_er_decisions_total", decision="approved") == approvals + 1
    with django_capture_on_commit_callbacks(execute=True):
        er.merge_rollback(merge=done, subject=world["subject"], reason="wrong person")
    assert value("ig_er_rollbacks_total") == rollbacks + 1
    with pytest.raises(er.ERError), django_capture_on_commit_callbacks(execute=True):
        er.merge_rollback(merge=done, subject=world["subject"], reason="again")  # refused: nothing more counted
    assert value("ig_er_rollbacks_total") == rollbacks + 1


def test_the_dry_run_lists_what_changes_back_field_by_field(world):
    m = merge(world, "A", "B")
    rows = {row["id"]: row for row in er.rollback_changes(er.rollback_plan(merge=m))}
    assert rows[str(m.canonical_id)]["change"] == "removed"
    member = rows[str(world["A"].pk)]
    assert member["change"] == "reverted"
    assert {"field": "merged_into_id", "now": str(m.canonical_id), "after": None} in member["fields"]
    assert all(f["now"] != f["after"] for row in rows.values() for f in row["fields"])
    repointed = rows[str(world["edges"]["A-org"].pk)]  # an outside relationship moved to the canonical entity
    assert [f["field"] for f in repointed["fields"]] == ["from_entity_id"]
