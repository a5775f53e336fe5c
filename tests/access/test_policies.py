"""The Rego policies, rule by rule, through the evaluator the product uses."""

import pytest

from apps.access import bundle as policy


def subject(role="analyst", clearance=2, compartments=(), purpose=None, tenant="1"):
    s = {"memberships": {tenant: {"role": role, "clearance": clearance, "compartments": list(compartments)}}}
    if purpose:
        s["purpose"] = purpose
    return s


def entity(rid="e", tenant="1", sensitivity=1, labels=(), fields=(), granted=False, kind="person"):
    return {
        "id": rid,
        "type": "entity",
        "tenant": tenant,
        "kind": kind,
        "sensitivity": sensitivity,
        "labels": list(labels),
        "fields": list(fields),
        "granted": granted,
    }


def decide(resource, action="read", tenant_purposes=("investigation", "fraud-risk"), **subject_kwargs):
    """One resource's decision, with the withheld fields among its own (the page output, per row).
    ``tenant_purposes``: the purposes the resource's tenant has active."""
    resource = dict(resource)
    fields = resource.pop("fields", [])
    page = policy.evaluate(
        "abac",
        {
            "action": action,
            "subject": subject(**subject_kwargs),
            "resources": [resource],
            "fields": {resource["tenant"]: list(fields)},
            "tenant_purposes": {resource["tenant"]: list(tenant_purposes)},
        },
    )
    decision = dict(page["decisions"][resource["id"]])
    withheld = page["fields"].get(resource["tenant"], {})
    decision["redact"] = (
        {f: withheld[f] for f in fields if f in withheld} if decision["visibility"] == "visible" else {}
    )
    return decision


def test_other_tenant_is_hidden_even_for_masking_actions():
    d = decide(entity(tenant="2"), action="expand")
    assert (d["visibility"], d["reason"], d["rule"]) == ("hidden", "TENANT", "abac.tenant")


def test_at_or_below_clearance_is_visible():
    assert decide(entity(sensitivity=2), clearance=2)["visibility"] == "visible"


@pytest.mark.parametrize(
    ("action", "sensitivity", "visibility"),
    [
        ("read", 3, "masked"),
        ("expand", 3, "masked"),
        ("search", 3, "hidden"),
        ("read", 4, "hidden"),
        ("export", 3, "hidden"),
    ],
)
def test_above_clearance_is_masked_within_the_gap_for_masking_actions(action, sensitivity, visibility):
    d = decide(entity(sensitivity=sensitivity), action=action, clearance=2)
    assert (d["visibility"], d["reason"], d["needs"]) == (
        visibility,
        "CLEARANCE",
        {"clearance": sensitivity, "grant": True},
    )


def test_object_grant_lifts_clearance_but_not_tenant():
    assert decide(entity(sensitivity=4, granted=True), clearance=1)["reason"] == "GRANT"
    assert decide(entity(sensitivity=4, granted=True, tenant="2"))["visibility"] == "hidden"


def test_compartment_label_needs_the_compartment():
    d = decide(entity(labels=["sanctions", "vip"]), action="expand")
    assert (d["visibility"], d["reason"], d["needs"]["compartments"]) == ("masked", "COMPARTMENT", ["sanctions"])
    assert decide(entity(labels=["sanctions"]), compartments=["sanctions"])["visibility"] == "visible"
    assert decide(entity(labels=["vip"]))["visibility"] == "visible"


def test_field_rules_redact_with_reason():
    fields = ["national_id", "birth_date", "iban", "city"]
    reader = decide(entity(fields=fields), role="reader", clearance=2)["redact"]
    assert reader["national_id"]["reason"] == "FIELD_CLEARANCE"
    assert reader["birth_date"]["reason"] == "FIELD_ROLE"
    assert reader["iban"]["needs"] == {"role": "analyst"}
    assert "city" not in reader


def test_purpose_bound_field_needs_an_investigative_purpose():
    cleared = {"role": "analyst", "clearance": 3}
    d = decide(entity(fields=["national_id"]), **cleared)
    assert d["redact"]["national_id"]["reason"] == "PURPOSE_REQUIRED"
    assert d["redact"]["national_id"]["needs"] == {"purpose": ["fraud-risk", "investigation"]}
    assert decide(entity(fields=["national_id"]), purpose="investigation", **cleared)["redact"] == {}
    assert "national_id" in decide(entity(fields=["national_id"]), purpose="research", **cleared)["redact"]


def test_a_purpose_the_tenant_has_not_active_unlocks_nothing():
    cleared = {"role": "analyst", "clearance": 3}
    only_fraud = decide(
        entity(fields=["national_id"]), purpose="investigation", tenant_purposes=["fraud-risk"], **cleared
    )
    assert only_fraud["redact"]["national_id"]["reason"] == "PURPOSE_REQUIRED"
    assert only_fraud["redact"]["national_id"]["needs"] == {"purpose": ["fraud-risk"]}
    assert decide(entity(fields=["national_id"]), purpose="investigation", tenant_purposes=[], **cleared)["redact"]


def test_edge_kind_rule():
    edge = {
        "id": "r",
        "type": "relationship",
        "tenant": "1",
        "kind": "transferred_to",
        "sensitivity": 1,
        "labels": [],
        "fields": [],
        "granted": False,
    }
    assert decide(edge, action="expand", role="reader")["reason"] == "EDGE_ROLE"
    assert decide(edge, action="expand", role="analyst")["visibility"] == "visible"


@pytest.mark.parametrize(
    ("action", "purpose", "tenant_purposes", "expected"),
    [
        ("read", None, ["investigation"], (True, False, "")),
        ("merge", None, ["investigation", "fraud-risk"], (False, True, "PURPOSE_MISSING")),
        ("merge", "audit", ["investigation", "fraud-risk"], (False, True, "PURPOSE_UNKNOWN")),
        ("merge", "research", ["investigation", "research"], (False, True, "PURPOSE_NOT_PERMITTED")),
        ("merge", "fraud-risk", ["investigation", "fraud-risk"], (True, True, "")),
        ("export", "research", ["investigation", "research"], (True, True, "")),
    ],
)
def test_purpose_policy(action, purpose, tenant_purposes, expected):
    s = {"purpose": purpose} if purpose else {}
    check = policy.evaluate("purpose", {"action": action, "subject": s, "tenant_purposes": tenant_purposes})
    assert (check["allowed"], check["bound"], check["reason"]) == expected


def test_purpose_policy_treats_null_as_missing():
    check = policy.evaluate(
        "purpose", {"action": "merge", "subject": {"purpose": None}, "tenant_purposes": ["investigation"]}
    )
    assert check["reason"] == "PURPOSE_MISSING"


def test_schema_guard_denies_deprecated_field_after_eol_only():
    before = policy.evaluate("schema", {"fields": ["Attribute.value", "Entity.kind"], "today": "2026-03-31"})
    after = policy.evaluate("schema", {"fields": ["Attribute.value", "Entity.kind"], "today": "2026-04-01"})
    assert before == {}
    assert after == {
        "Attribute.value": {"deprecated": "2025-09-30", "eol": "2026-03-31", "replacement": "Attribute.text"}
    }


def test_compile_error_names_file_and_line_and_keeps_previous_bundle(tmp_path):
    from apps.access.errors import PolicyCompileError

    in_force = policy.current_bundle()
    for source in policy.compile_bundle().sources.items():
        (tmp_path / source[0].split("/")[-1]).write_text(source[1])
    broken = tmp_path / "abac.rego"
    lines = broken.read_text().splitlines()
    lines[20] = "broken := {"  # line 21
    broken.write_text("\n".join(lines))
    with pytest.raises(PolicyCompileError, match=r"policies/abac.rego:\d+: "):
        policy.compile_bundle(tmp_path)
    assert policy.current_bundle() is in_force


def test_bundle_hash_changes_with_content(tmp_path):
    sources = policy.compile_bundle().sources
    for path, text in sources.items():
        (tmp_path / path.split("/")[-1]).write_text(text)
    same = policy.compile_bundle(tmp_path)
    (tmp_path / "schema.rego").write_text(sources["policies/schema.rego"] + "\n# changed\n")
    assert same.sha256 == policy.current_bundle().sha256
    assert policy.compile_bundle(tmp_path).sha256 != same.sha256


def test_threads_share_compiled_engines_instead_of_building_one_each(monkeypatch):
    """Under ASGI each request runs in a new thread; building an engine compiles the bundle (hundreds of ms)."""
    import threading

    built = []
    real = policy._Engine

    class Counting(real):
        def __init__(self, sources):
            built.append(1)
            super().__init__(sources)

    monkeypatch.setattr(policy, "_Engine", Counting)
    policy._idle.clear()
    document = {"held": {"1": "reader"}, "least": "reader"}
    policy.evaluate("roles", document)  # this thread builds the first engine
    built.clear()
    for _ in range(5):
        thread = threading.Thread(target=policy.evaluate, args=("roles", document))
        thread.start()
        thread.join()
    assert built == []  # each later thread borrowed it
