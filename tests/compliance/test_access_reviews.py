"""Quarterly access reviews (issue 20, item 3): the population frozen at launch, decisions applied through the
services, nobody deciding their own access, completeness before close, reminders and the overdue alert, and the
signed export an auditor checks offline."""

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from guardian.shortcuts import assign_perm

from apps.audit.models import AuditEvent
from apps.audit.sealing import seal_pending
from apps.compliance import services as compliance
from apps.compliance.choices import AccessDecision, AccessFinding, AccessItemKind
from apps.compliance.errors import AccessReviewError
from apps.compliance.models import AccessReview
from apps.core import services as core
from apps.core.choices import Role, Sensitivity
from apps.core.models import ApiToken, Membership
from tests import factories
from tests.compliance.auditing import auditor

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world():
    """A tenant with a compliance officer, an administrator, an analyst with a token, a member who never signed
    in, an old unused token, an object grant to an outsider, and a staff member."""
    tenant = factories.tenant("acme")
    other = factories.tenant("globex")
    officer = factories.user(tenant=tenant, username="cora", role=Role.COMPLIANCE, email="cora@example.org")
    admin = factories.user(tenant=tenant, username="adam", role=Role.ADMIN, email="adam@example.org")
    analyst = factories.user(tenant=tenant, username="ana", role=Role.ANALYST, clearance=Sensitivity.SECRET)
    quiet = factories.user(tenant=tenant, username="quinn", role=Role.READER)
    staff = factories.user(tenant=tenant, username="sam", role=Role.READER, staff=True)
    outsider = factories.user(tenant=other, username="otto", role=Role.ANALYST)
    left = factories.user(tenant=tenant, username="lee", role=Role.ANALYST)
    core.membership_deactivate(membership=Membership.objects.get(user=left, tenant=tenant))
    now = timezone.now()
    for user in (officer, admin, analyst, staff, outsider):
        user.last_login = now
        user.save(update_fields=["last_login"])
    token, raw = factories.api_token(user=analyst, name="case sync")
    old, _ = factories.api_token(user=analyst, name="old job")
    ApiToken.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=200))
    orphan, _ = factories.api_token(user=left, name="forgotten")
    entity = factories.entity(tenant=tenant, name="Secret Person")
    assign_perm("core.view_entity", outsider, entity)
    return type(
        "World",
        (),
        dict(
            tenant=tenant,
            other=other,
            officer=officer,
            admin=admin,
            analyst=analyst,
            quiet=quiet,
            staff=staff,
            outsider=outsider,
            left=left,
            token=token,
            raw=raw,
            old=old,
            orphan=orphan,
            entity=entity,
        ),
    )


def _items(review):
    return {(item.kind, item.holder, item.access.get("name", "")): item for item in review.items.all()}


def test_launch_freezes_every_access_with_its_findings(world):
    review = compliance.access_review_launch(tenant=world.tenant, actor=world.officer, period="2026-Q4")
    items = _items(review)
    memberships = {h for (k, h, _) in items if k == AccessItemKind.MEMBERSHIP}
    assert memberships == {"cora", "adam", "ana", "quinn", "sam"}  # lee's membership is inactive: no access
    assert items[(AccessItemKind.MEMBERSHIP, "quinn", "")].findings == [AccessFinding.NEVER_LOGGED_IN]
    assert items[(AccessItemKind.MEMBERSHIP, "ana", "")].access["clearance"] == Sensitivity.SECRET
    assert items[(AccessItemKind.TOKEN, "ana", "case sync")].findings == []
    assert items[(AccessItemKind.TOKEN, "ana", "old job")].findings == [AccessFinding.TOKEN_UNUSED]
    assert items[(AccessItemKind.TOKEN, "lee", "forgotten")].findings == [AccessFinding.NO_ROLE]
    assert items[(AccessItemKind.GRANT, "otto", "")].findings == [AccessFinding.OUTSIDE_TENANT]
    assert items[(AccessItemKind.GRANT, "otto", "")].access == {
        "entity": str(world.entity.pk),
        "permission": "view_entity",
    }
    assert (AccessItemKind.STAFF, "sam", "") in items
    # the entity's name (which the reviewer may not be cleared for) is not copied into the review
    assert "Secret Person" not in json.dumps([item.access for item in review.items.all()])
    # later changes do not alter what is under review
    factories.user(tenant=world.tenant, username="newcomer")
    core.membership_set(user=world.analyst, tenant=world.tenant, role=Role.ADMIN)
    assert review.items.count() == len(items)
    assert items[(AccessItemKind.MEMBERSHIP, "ana", "")].access["role"] == Role.ANALYST
    launched = AuditEvent.objects.get(event_type="access_review.launched")
    assert launched.payload["items"] == len(items) and launched.tenant_id == world.tenant.pk


def test_a_quarter_has_one_review_and_bad_input_changes_nothing(world):
    compliance.access_review_launch(tenant=world.tenant, actor=world.officer, period="2026-Q4")
    with pytest.raises(AccessReviewError, match="a quarter has one review"):
        compliance.access_review_launch(tenant=world.tenant, actor=world.admin, period="2026-Q4")
    with pytest.raises(AccessReviewError, match="is not a quarter"):
        compliance.access_review_launch(tenant=world.tenant, actor=world.officer, period="2026-Q5")
    with pytest.raises(AccessReviewError, match="needs the compliance role in acme"):
        compliance.access_review_launch(tenant=world.tenant, actor=world.analyst, period="2026-Q3")
    with pytest.raises(AccessReviewError, match="needs the compliance role in globex"):
        compliance.access_review_launch(tenant=world.other, actor=world.officer, period="2026-Q4")
    assert AccessReview.objects.count() == 1
    denied = AuditEvent.objects.filter(event_type="access.denied", payload__record_type="accessreview")
    assert denied.count() == 2


def test_decisions_apply_at_once_and_nobody_decides_their_own(world, client):
    review = compliance.access_review_launch(tenant=world.tenant, actor=world.officer, period="2026-Q4")
    items = _items(review)
    # the officer's own membership is someone else's to decide
    with pytest.raises(AccessReviewError, match="nobody decides their own access"):
        compliance.access_review_decide(
            item=items[(AccessItemKind.MEMBERSHIP, "cora", "")], actor=world.officer, decision="certified", reason="me"
        )
    with pytest.raises(AccessReviewError, match="needs a reason"):
        compliance.access_review_decide(
            item=items[(AccessItemKind.MEMBERSHIP, "quinn", "")], actor=world.officer, decision="revoked", reason=" "
        )
    with pytest.raises(AccessReviewError, match="needs the compliance role"):
        compliance.access_review_decide(
            item=items[(AccessItemKind.MEMBERSHIP, "quinn", "")], actor=world.analyst, decision="revoked", reason="x"
        )
    # a revoked token stops working on the next request
    assert core.api_token_authenticate(raw=world.raw) == world.analyst
    compliance.access_review_decide(
        item=items[(AccessItemKind.TOKEN, "ana", "case sync")], actor=world.admin, decision="revoked", reason="unused"
    )
    assert core.api_token_authenticate(raw=world.raw) is None
    response = client.post("/graphql", {"query": "{ __typename }"}, HTTP_AUTHORIZATION=f"Bearer {world.raw}")
    assert response.status_code == 401
    # a membership revoked is deactivated; a modification only takes access away
    compliance.access_review_decide(
        item=items[(AccessItemKind.MEMBERSHIP, "quinn", "")], actor=world.officer, decision="revoked", reason="left"
    )
    assert not Membership.objects.get(user=world.quiet, tenant=world.tenant).is_active
    ana = items[(AccessItemKind.MEMBERSHIP, "ana", "")]
    with pytest.raises(AccessReviewError, match="only takes access away"):
        compliance.access_review_decide(item=ana, actor=world.officer, decision="modified", reason="x", role=Role.ADMIN)
    with pytest.raises(AccessReviewError, match="changes nothing"):
        compliance.access_review_decide(
            item=ana, actor=world.officer, decision="modified", reason="x", role=Role.ANALYST
        )
    compliance.access_review_decide(
        item=ana, actor=world.officer, decision="modified", reason="needs less", role=Role.READER, clearance="internal"
    )
    membership = Membership.objects.get(user=world.analyst, tenant=world.tenant)
    assert (membership.role, membership.clearance) == (Role.READER, Sensitivity.INTERNAL)
    ana.refresh_from_db()
    assert ana.change == {"role": ["analyst", "reader"], "clearance": [Sensitivity.SECRET, Sensitivity.INTERNAL]}
    with pytest.raises(AccessReviewError, match="already modified by cora"):
        compliance.access_review_decide(item=ana, actor=world.admin, decision="certified", reason="ok")
    # the grant to an outsider is removed
    compliance.access_review_decide(
        item=items[(AccessItemKind.GRANT, "otto", "")], actor=world.officer, decision="revoked", reason="outsider"
    )
    assert not world.outsider.has_perm("core.view_entity", world.entity)
    # a staff flag is superusers' alone
    with pytest.raises(AccessReviewError, match="only a superuser removes a staff flag"):
        compliance.access_review_decide(
            item=items[(AccessItemKind.STAFF, "sam", "")], actor=world.officer, decision="revoked", reason="x"
        )
    decided = AuditEvent.objects.filter(event_type="access_review.decided").order_by("seq")
    assert [e.payload["decision"] for e in decided] == ["revoked", "revoked", "modified", "revoked"]


def test_a_review_closes_only_when_complete_and_then_takes_no_decision(world):
    review = compliance.access_review_launch(tenant=world.tenant, actor=world.officer, period="2026-Q4")
    with pytest.raises(AccessReviewError, match=r"item\(s\) are still undecided"):
        compliance.access_review_close(review=review, actor=world.officer)
    last = None
    for item in review.items.all():
        reviewer = world.admin if item.user_id == world.officer.pk else world.officer
        compliance.access_review_decide(item=item, actor=reviewer, decision="certified", reason="checked")
        last = item
    closed = compliance.access_review_close(review=review, actor=world.officer)
    assert closed.status == "closed" and closed.closed_by == world.officer
    with pytest.raises(AccessReviewError, match="is closed"):
        compliance.access_review_decide(item=last, actor=world.admin, decision="revoked", reason="late")
    with pytest.raises(AccessReviewError, match="closed already"):
        compliance.access_review_close(review=review, actor=world.officer)
    event = AuditEvent.objects.get(event_type="access_review.closed")
    assert event.payload["decisions"] == {"certified": review.items.count()}


def _closed_review(world):
    review = compliance.access_review_launch(tenant=world.tenant, actor=world.officer, period="2026-Q4")
    for item in review.items.all():
        reviewer = world.admin if item.user_id == world.officer.pk else world.officer
        decision = AccessDecision.REVOKED if item.findings else AccessDecision.CERTIFIED
        if item.kind == AccessItemKind.STAFF:
            decision = AccessDecision.CERTIFIED
        compliance.access_review_decide(item=item, actor=reviewer, decision=decision, reason="quarterly check")
    return compliance.access_review_close(review=review, actor=world.officer)


def _rewrite(source: Path, target: Path, change) -> Path:
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    change(members)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def test_the_export_verifies_offline_and_any_change_to_it_fails(world, tmp_path):
    review = _closed_review(world)
    seal_pending()
    out = tmp_path / "review.zip"
    call_command(
        "access_review_export",
        "--tenant",
        "acme",
        "--period",
        "2026-Q4",
        "--out",
        str(out),
        "--as",
        "cora",
        stdout=io.StringIO(),
    )
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["audit-events.proofs.jsonl", "decisions.csv", "manifest.json"]
        manifest = json.loads(archive.read("manifest.json"))
        rows = archive.read("decisions.csv").decode().splitlines()
    assert len(rows) == review.items.count() + 1 and manifest["gaps"] == []
    assert manifest["metadata"]["retention"] == "long-1825d" and manifest["files"][0]["effective_from"].startswith(
        "2026-10-01"
    )
    result = auditor(tmp_path, out)
    assert result.returncode == 0, result.stderr
    assert f"{review.items.count() + 2} audit event(s) proved against checkpoint" in result.stdout
    said = io.StringIO()
    call_command("evidence_verify", str(out), stdout=said)
    assert "OK: access-review evidence" in said.getvalue()
    tampered = {
        "changed": lambda m: m.update({"decisions.csv": m["decisions.csv"].replace(b"revoked", b"certified")}),
        "added": lambda m: m.update({"extra.txt": b"planted"}),
        "removed": lambda m: m.pop("audit-events.proofs.jsonl"),
        "relabelled": lambda m: m.update(
            {"manifest.json": m["manifest.json"].replace(b'"access-review"', b'"access-revue"')}
        ),
    }
    for label, change in tampered.items():
        result = auditor(tmp_path, _rewrite(out, tmp_path / f"{label}.zip", change))
        assert result.returncode == 1, label
        assert result.stderr.startswith("NOT VERIFIED"), (label, result.stderr)
        assert {
            "changed": "(changed)",
            "added": "(added)",
            "removed": "(removed or renamed)",
            "relabelled": "signature",
        }[label] in result.stderr
    with pytest.raises(CommandError, match="NOT VERIFIED"):
        call_command("evidence_verify", str(tmp_path / "changed.zip"), stdout=io.StringIO())
    # bytes a reader of local headers would see but the directory does not list: prepended, appended, or a
    # tampered copy of decisions.csv hidden before the real entries
    original = out.read_bytes()
    hidden = io.BytesIO()
    with zipfile.ZipFile(hidden, "w") as archive:
        archive.writestr("decisions.csv", b"review,tenant\nforged,acme\n")
    for label, data in (("prepended", b"junk" + original), ("appended", original + b"junk")):
        (tmp_path / f"{label}.zip").write_bytes(data)
        result = auditor(tmp_path, tmp_path / f"{label}.zip")
        assert result.returncode == 1 and "NOT VERIFIED" in result.stderr, (label, result.stdout)
    smuggled = tmp_path / "smuggled.zip"
    smuggled.write_bytes(hidden.getvalue()[: hidden.getvalue().find(b"PK\x01\x02")] + original)
    result = auditor(tmp_path, smuggled)
    assert result.returncode == 1 and "no listed file accounts for" in result.stderr
    # signed with a key the auditor does not trust
    stranger = tmp_path / "stranger"
    stranger.write_text("ab" * 32 + "\n")
    result = auditor(tmp_path, out, keys=stranger)
    assert result.returncode == 1 and "not among the keys you trust" in result.stderr


def test_an_open_review_is_not_exported_and_unsealed_events_are_gaps(world, tmp_path):
    review = compliance.access_review_launch(tenant=world.tenant, actor=world.officer, period="2026-Q3")
    with pytest.raises(AccessReviewError, match="close the review first"):
        compliance.access_review_export(review=review, actor=world.officer)
    with pytest.raises(AccessReviewError, match="needs the compliance role"):
        compliance.access_review_export(review=review, actor=world.analyst)
    # closed while no sealer runs: its events cannot be proved yet, and the manifest says so
    review = _closed_review(world)
    data, name = compliance.access_review_export(review=review, actor=world.officer)
    assert name == "access-review-acme-2026-Q4.zip"
    out = tmp_path / name
    out.write_bytes(data)
    result = auditor(tmp_path, out)
    assert result.returncode == 0, result.stderr
    assert "GAP: audit event #" in result.stdout and "not sealed yet" in result.stdout


def test_reminders_in_the_last_week_then_the_overdue_alert_and_escalation(world, settings):
    settings.ALERT_EMAILS = ["oncall@example.org"]
    # due at noon UTC, so that "an hour later" is the same day whenever the test runs ("once a day" is per day)
    due = (timezone.now() + timedelta(days=20)).replace(hour=12, minute=0, second=0, microsecond=0)
    review = compliance.access_review_launch(tenant=world.tenant, actor=world.officer, period="2026-Q4", due_at=due)
    assert compliance.access_reviews_remind() == {"reminded": [], "overdue": []}  # not due within a week
    soon = review.due_at - timedelta(days=5)
    assert compliance.access_reviews_remind(now=soon)["reminded"] == [review.pk]
    assert sorted(mail.outbox[-1].to) == ["adam@example.org", "cora@example.org"]
    assert "wait for a decision" in mail.outbox[-1].body
    assert compliance.access_reviews_remind(now=soon + timedelta(hours=1))["reminded"] == []  # once a day
    late = review.due_at + timedelta(days=2)
    sent = len(mail.outbox)
    assert compliance.access_reviews_remind(now=late)["overdue"] == [review.pk]
    escalation = mail.outbox[sent:]
    assert [m.to for m in escalation] == [["adam@example.org"]] and "2 day(s) ago" in escalation[0].body
    overdue = AuditEvent.objects.get(event_type="access_review.overdue")
    assert overdue.payload["pending"] == review.items.count() and overdue.payload["escalated_to"] == 1
    assert compliance.access_reviews_remind(now=late + timedelta(hours=2))["overdue"] == []


def test_the_quarterly_task_launches_one_review_per_active_tenant(world):
    from apps.compliance.tasks import access_reviews_launch

    first = access_reviews_launch()
    assert sorted(first["launched"]) == sorted(
        f"{t} {compliance.quarter_of(timezone.now())}" for t in ("acme", "globex")
    )
    assert access_reviews_launch() == {"launched": []}
    assert AuditEvent.objects.filter(event_type="access_review.launched", actor_label="celery beat").count() == 2
