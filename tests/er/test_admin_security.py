"""Security issue 11, entity resolution in the admin: pins for other tenants, decisions nobody made, previews that
saved, merges of records the reviewer cannot see, and names and values the policy withholds shown anyway."""

from html.parser import HTMLParser

import pytest

from apps.access.selectors import NOT_VISIBLE_LABEL
from apps.access.services import SESSION_PURPOSE_KEY, subject_for
from apps.audit.models import AuditEvent
from apps.core.choices import Role, Sensitivity
from apps.er import engine
from apps.er import services as er
from apps.er.choices import PairStatus
from apps.er.models import CandidatePair, Merge, ModelPin, NeverMerge, TenantERSettings
from tests import factories

pytestmark = pytest.mark.django_db
PASSWORD = "a long test password"
# Names and values no test user below may see: none of them may appear in a page they are shown.
HIDDEN_A, HIDDEN_B = "Zebulon Quartermaine", "Zebulon Q. Quartermaine"
NATIONAL_ID, BIRTH_DATE = "NI-778899-Q", "1961-04-12"


def login(client, user):
    client.force_login(user)
    return client


def declare(client, purpose="investigation"):
    session = client.session
    session[SESSION_PURPOSE_KEY] = purpose
    session.save()


def pair_of(tenant, a, b, score=0.9):
    first, second = sorted([a, b], key=lambda e: str(e.pk))
    return CandidatePair.objects.create(tenant=tenant, entity_a=first, entity_b=second, score=score, model_sha="c" * 64)


def denied(**payload):
    events = AuditEvent.objects.filter(event_type="access.denied")
    return [e for e in events if all(e.payload.get(k) == v for k, v in payload.items())]


def er_events():
    return AuditEvent.objects.filter(event_type__startswith="er.").count()


# --------------------------------------------------------------------------- 1. pins for other tenants


@pytest.fixture
def pins(client, tenant_a, tenant_b):
    admin_a = factories.user(tenant=tenant_a, role=Role.ADMIN, password=PASSWORD)
    artifact = er.model_register(data=engine.default_model_bytes(), model_id="fs-default")
    theirs = er.pin_set(tenant=tenant_b, artifact=artifact, note="bravo's canary")
    return {"client": login(client, admin_a), "admin": admin_a, "artifact": artifact, "theirs": theirs}


def test_a_tenant_admin_is_offered_only_their_own_tenant_for_a_pin(pins, tenant_a, tenant_b):
    page = pins["client"].get("/admin/er/modelpin/add/").content.decode()
    assert f'<option value="{tenant_a.pk}"' in page
    assert f'<option value="{tenant_b.pk}"' not in page and "bravo" not in page


def test_a_tenant_admin_cannot_pin_for_another_tenant_or_for_all(pins, tenant_a, tenant_b):
    before = ModelPin.objects.count()
    for tenant in (tenant_b.pk, ""):
        response = pins["client"].post(
            "/admin/er/modelpin/add/", {"tenant": tenant, "artifact": pins["artifact"].pk, "mode": "active", "note": ""}
        )
        assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert ModelPin.objects.count() == before
    assert denied(record_type="modelpin", tenant=tenant_b.pk) and denied(record_type="modelpin", tenant=None)
    # Their own tenant works.
    response = pins["client"].post(
        "/admin/er/modelpin/add/", {"tenant": tenant_a.pk, "artifact": pins["artifact"].pk, "mode": "active"}
    )
    assert response.status_code == 302 and ModelPin.objects.filter(tenant=tenant_a).count() == 1


def test_a_tenant_admin_neither_sees_nor_reverts_another_tenants_pins(pins, tenant_b):
    listing = pins["client"].get("/admin/er/modelpin/").content.decode()
    assert "bravo" not in listing
    before = ModelPin.objects.count()
    pins["client"].post("/admin/er/modelpin/", {"action": "revert_selected", "_selected_action": [pins["theirs"].pk]})
    assert ModelPin.objects.count() == before
    with pytest.raises(er.ERError):  # the service refuses too, whatever interface calls it
        er.pin_revert(tenant=tenant_b, actor=pins["admin"])
    with pytest.raises(er.ERError):
        er.pin_set(tenant=None, artifact=pins["artifact"], actor=pins["admin"])
    assert ModelPin.objects.count() == before and denied(record_type="modelpin", tenant=tenant_b.pk)


def test_a_reviewer_may_neither_revert_pins_nor_download_model_bytes(client, tenant_a, pins):
    reviewer = factories.user(tenant=tenant_a, role=Role.REVIEWER)
    mine = er.pin_set(tenant=tenant_a, artifact=pins["artifact"])
    login(client, reviewer)
    before = ModelPin.objects.count()
    client.post("/admin/er/modelpin/", {"action": "revert_selected", "_selected_action": [mine.pk]})
    assert ModelPin.objects.count() == before
    assert client.get(f"/admin/er/modelartifact/{pins['artifact'].pk}/download/").status_code == 403
    assert denied(action="download", record_type="modelartifact")


def test_the_registry_names_only_the_users_own_tenants(pins):
    page = pins["client"].get(f"/admin/er/modelartifact/{pins['artifact'].pk}/change/").content.decode()
    listing = pins["client"].get("/admin/er/modelartifact/").content.decode()
    assert "bravo" not in page and "bravo" not in listing


# --------------------------------------------------------------------------- 2. a decision only from its button


@pytest.fixture
def desk(client, tenant_a):
    reviewer = factories.user(tenant=tenant_a, role=Role.REVIEWER, clearance=Sensitivity.TOP_SECRET)
    a = factories.entity(tenant=tenant_a, name="Ada Lovelace", attributes={"birth_date": "1815-12-10"})
    b = factories.entity(tenant=tenant_a, name="Ada King", attributes={"birth_date": "1815-12-10"})
    login(client, reviewer)
    declare(client)
    return {"client": client, "pair": pair_of(tenant_a, a, b), "tenant": tenant_a}


def test_a_post_without_a_decision_decides_nothing(desk):
    pair, events = desk["pair"], er_events()
    response = desk["client"].post(f"/admin/er/candidatepair/{pair.pk}/change/", {"reason": "not the same person"})
    assert response.status_code == 200 and "No decision was made" in response.content.decode()
    pair.refresh_from_db()
    assert pair.status == PairStatus.PENDING and not Merge.objects.exists() and er_events() == events


def test_the_decide_form_has_no_enabled_default_button(desk):
    """Enter in a text field submits with the form's first submit button: that one must be disabled."""
    page = desk["client"].get(f"/admin/er/candidatepair/{desk['pair'].pk}/change/").content.decode()
    form = page[page.index('id="er-decide"') :]
    first = form[form.index("<button") : form.index(">", form.index("<button"))]
    assert "disabled" in first and 'name="decision"' not in first
    assert "accesskey" not in form.split("</form>")[0]  # Alt+A would approve from inside the reason field


# --------------------------------------------------------------------------- 3. a preview never writes


class _FormOwners(HTMLParser):
    """For each form control, the id of the form it submits with (its form="" attribute, else the enclosing form)."""

    def __init__(self):
        super().__init__()
        self.stack, self.owner, self.nested = [], {}, {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("input", "button", "select") and attrs.get("name") in ("review", "auto", "model"):
            self.owner[attrs["name"]] = attrs.get("form") or (self.stack[-1] if self.stack else None)
        if tag == "button" and attrs.get("form"):
            self.owner[f"button:{attrs['form']}"] = attrs["form"]
        if tag == "form":
            self.nested[attrs.get("id")] = list(self.stack)
            self.stack.append(attrs.get("id") or "?")

    def handle_endtag(self, tag):
        if tag == "form" and self.stack:
            self.stack.pop()


def test_the_what_if_preview_writes_nothing(desk, admin_client):
    row = er.thresholds_set(tenant=desk["tenant"], auto_merge=0.97, review=0.6)
    url = f"/admin/er/tenantersettings/{row.pk}/change/"
    history, events, stamp = row.history.count(), er_events(), TenantERSettings.objects.get(pk=row.pk).updated_at
    page = admin_client.get(url, {"auto": "0.8", "review": "0.3"}).content.decode()
    assert 'id="er-what-if-result"' in page
    forms = _FormOwners()
    forms.feed(page)
    # The preview's controls submit GET forms outside the settings form (a browser drops a nested form, and
    # Preview then submitted the settings form: saved and audited).
    assert forms.owner == {
        "review": "er-what-if",
        "auto": "er-what-if",
        "model": "er-what-if-model",
        "button:er-what-if": "er-what-if",
        "button:er-what-if-model": "er-what-if-model",
    }
    assert forms.nested["er-what-if"] == [] and forms.nested["er-what-if-model"] == []
    assert 'id="er-what-if" hidden' in page and page.count('method="get"') >= 2
    fresh = TenantERSettings.objects.get(pk=row.pk)
    assert (fresh.auto_merge_threshold, fresh.review_threshold, fresh.updated_at) == (0.97, 0.6, stamp)
    assert row.history.count() == history and er_events() == events


# --------------------------------------------------------------------------- 4. merging what one cannot see


@pytest.fixture
def hidden(client, tenant_a):
    """Two top-secret records and a reviewer cleared only to confidential."""
    a = factories.entity(
        tenant=tenant_a,
        name=HIDDEN_A,
        sensitivity=Sensitivity.TOP_SECRET,
        attributes={"national_id": NATIONAL_ID, "birth_date": BIRTH_DATE},
    )
    b = factories.entity(
        tenant=tenant_a,
        name=HIDDEN_B,
        sensitivity=Sensitivity.TOP_SECRET,
        attributes={"national_id": NATIONAL_ID, "birth_date": BIRTH_DATE},
    )
    reviewer = factories.user(tenant=tenant_a, role=Role.REVIEWER, clearance=Sensitivity.CONFIDENTIAL)
    login(client, reviewer)
    declare(client)
    return {"client": client, "pair": pair_of(tenant_a, a, b), "a": a, "b": b, "reviewer": reviewer}


@pytest.mark.parametrize("decision", ["approve", "reject", "defer"])
def test_a_reviewer_cannot_decide_a_pair_they_cannot_read(hidden, decision):
    pair = hidden["pair"]
    response = hidden["client"].post(
        f"/admin/er/candidatepair/{pair.pk}/change/", {"decision": decision, "reason": "looks the same"}
    )
    assert response.status_code == 200 and "not visible to you" in response.content.decode()
    pair.refresh_from_db()
    assert pair.status == PairStatus.PENDING and not Merge.objects.exists() and not NeverMerge.objects.exists()
    assert denied(action="merge", resources=sorted([str(hidden["a"].pk), str(hidden["b"].pk)]))


def test_bulk_approval_skips_pairs_the_reviewer_cannot_read(hidden):
    response = hidden["client"].post(
        "/admin/er/candidatepair/", {"action": "approve_selected", "_selected_action": [hidden["pair"].pk]}
    )
    assert response.status_code == 302
    hidden["pair"].refresh_from_db()
    assert hidden["pair"].status == PairStatus.PENDING and not Merge.objects.exists() and denied(action="merge")


def test_a_reviewer_cannot_roll_back_a_merge_of_records_they_cannot_read(hidden, tenant_a):
    merge = er.merge_materialize(tenant=tenant_a, entities=[hidden["a"], hidden["b"]], purpose="investigation")
    assert merge.automatic is False and merge.approver is None  # the system merges them: unaffected
    response = hidden["client"].post(f"/admin/er/merge/{merge.pk}/rollback/", {"reason": "wrong"})
    assert response.status_code == 200 and "not visible to you" in response.content.decode()
    merge.refresh_from_db()
    assert merge.rolled_back_at is None and denied(action="rollback")
    with pytest.raises(er.ERError):
        er.rollback_model(
            tenant=tenant_a,
            model_sha="",
            subject=subject_for(user=hidden["reviewer"], purpose="investigation"),
            reason="bad model",
        )
    merge.refresh_from_db()
    assert merge.rolled_back_at is None


# --------------------------------------------------------------------------- 5. names and values withheld


def assert_absent(response, *secrets):
    html = response.content.decode()
    assert response.status_code == 200
    for secret in secrets:
        assert secret not in html, secret


def test_the_queue_and_decide_page_of_a_low_clearance_reviewer_show_no_hidden_name(hidden):
    client, pair = hidden["client"], hidden["pair"]
    listing = client.get("/admin/er/candidatepair/")
    assert_absent(listing, HIDDEN_A, "Quartermaine", NATIONAL_ID, BIRTH_DATE)
    assert NOT_VISIBLE_LABEL in listing.content.decode()
    page = client.get(f"/admin/er/candidatepair/{pair.pk}/change/")
    assert_absent(page, "Quartermaine", NATIONAL_ID, BIRTH_DATE, "national_id")
    pair.refresh_from_db()
    assert pair.claimed_by is None  # a pair the reviewer cannot decide is not claimed by looking at it
    assert "data-claim-url" not in page.content.decode()  # nor offered a claim
    response = client.post(f"/admin/er/candidatepair/{pair.pk}/claim/")
    assert response.status_code == 403 and "cannot claim it" in response.json()["error"]
    pair.refresh_from_db()
    assert pair.claimed_by is None  # nor claimed by asking for it


def test_searching_the_queue_does_not_confirm_a_hidden_name(hidden, tenant_a):
    visible = pair_of(
        tenant_a,
        factories.entity(tenant=tenant_a, name="Quartermaine Visible"),
        factories.entity(tenant=tenant_a, name="Q. Visible"),
    )
    found = hidden["client"].get("/admin/er/candidatepair/", {"q": "Quartermaine"}).context["cl"].result_list
    assert [p.pk for p in found] == [visible.pk]


def test_a_withheld_attribute_is_not_shown_on_the_decide_page(client, tenant_a):
    a = factories.entity(tenant=tenant_a, name="Ada Lovelace", attributes={"national_id": NATIONAL_ID})
    b = factories.entity(tenant=tenant_a, name="Ada King", attributes={"national_id": "NI-000000-Z"})
    pair = pair_of(tenant_a, a, b)
    login(client, factories.user(tenant=tenant_a, role=Role.REVIEWER, clearance=Sensitivity.CONFIDENTIAL))
    page = client.get(f"/admin/er/candidatepair/{pair.pk}/change/")
    assert_absent(page, NATIONAL_ID, "NI-000000-Z")
    assert "Ada Lovelace" in page.content.decode() and "redacted" in page.content.decode()


@pytest.fixture
def merged(tenant_a):
    """A merge of a record above confidential (with a birth date) and one whose national id needs secret."""
    a = factories.entity(
        tenant=tenant_a,
        name=HIDDEN_A,
        sensitivity=Sensitivity.SECRET,
        attributes={"birth_date": BIRTH_DATE, "given_name": "Zebulon"},
    )
    b = factories.entity(tenant=tenant_a, name="Z. Quartermaine", attributes={"national_id": NATIONAL_ID})
    return er.merge_materialize(tenant=tenant_a, entities=[a, b], purpose="investigation")


def test_the_merge_snapshot_withholds_what_a_compliance_user_may_not_see(client, tenant_a, merged):
    login(client, factories.user(tenant=tenant_a, role=Role.COMPLIANCE, clearance=Sensitivity.CONFIDENTIAL))
    page = client.get(f"/admin/er/merge/{merged.pk}/change/")
    assert_absent(page, NATIONAL_ID, BIRTH_DATE, HIDDEN_A)
    assert "er-snapshot" in page.content.decode() and "[withheld]" in page.content.decode()


def test_the_rollback_dry_run_withholds_what_the_reviewer_may_not_see(client, tenant_a, merged):
    login(client, factories.user(tenant=tenant_a, role=Role.REVIEWER, clearance=Sensitivity.CONFIDENTIAL))
    page = client.get(f"/admin/er/merge/{merged.pk}/rollback/")
    assert_absent(page, NATIONAL_ID, BIRTH_DATE, HIDDEN_A)
    assert "Dry run:" in page.content.decode()


def test_never_merge_constraints_name_only_what_the_user_may_see(hidden, tenant_a):
    NeverMerge.objects.create(
        tenant=tenant_a, entity_a=hidden["pair"].entity_a, entity_b=hidden["pair"].entity_b, reason="different people"
    )
    constraint = NeverMerge.objects.get()
    assert_absent(hidden["client"].get("/admin/er/nevermerge/"), "Quartermaine")
    assert_absent(hidden["client"].get(f"/admin/er/nevermerge/{constraint.pk}/change/"), "Quartermaine")


def test_the_merge_snapshot_withholds_an_attribute_repeating_a_masked_linked_record(client, tenant_a):
    from apps.core import services as core_services

    a = factories.entity(tenant=tenant_a, name="Paula Phoneowner", attributes={"phone": "0170 7654321"})
    b = factories.entity(tenant=tenant_a, name="P. Phoneowner", attributes={"city": "Bonn"})
    phone = factories.entity(tenant=tenant_a, kind="phone", name="+49 170 7654321", sensitivity=Sensitivity.SECRET)
    core_services.relationship_create(tenant=tenant_a, kind="has_phone", from_entity=a, to_entity=phone)
    merge = er.merge_materialize(tenant=tenant_a, entities=[a, b], purpose="investigation")
    login(client, factories.user(tenant=tenant_a, role=Role.COMPLIANCE, clearance=Sensitivity.CONFIDENTIAL))
    page = client.get(f"/admin/er/merge/{merge.pk}/change/")
    assert_absent(page, "7654321")
    assert "Phoneowner" in page.content.decode()
