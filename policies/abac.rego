# IntelGraph attribute-based access control: which records a subject sees, and which fields and edges are redacted.
#
# Input (one evaluation per request or result page):
#   action     read | search | expand | export | merge | rollback | admin-change | tenant-read
#   subject    {memberships: {<tenant id>: {role, clearance, compartments}}, purpose}
#   resources  [{id, type: entity|relationship, tenant, kind, sensitivity, labels, granted}]
#              granted: the subject holds an object grant (django-guardian) on this record.
#   fields     {<tenant id>: [field, ...]}: the governed attributes present on the page's entities.
#   tenant_purposes  {<tenant id>: [code, ...]}: the purposes each tenant has active (sent when a purpose is declared).
# Output: page = {decisions: {<resource id>: {visibility: visible|masked|hidden, reason, rule, needs}},
#                 fields: {<tenant id>: {<field>: {reason, rule, needs}}}}  (only withheld fields listed)
# "needs" says what would grant access: {clearance: N} | {role: R} | {compartments: [...]} | {purpose: [...]}.
#
# The enforcement layer sends one resource per decision class: records that agree on type, tenant,
# sensitivity, compartment labels, grant, and (for relationships) kind. Entity rules must therefore
# not read an entity's kind or non-compartment labels without extending apps.access.services.decision_class.
# Field rules depend on the member and the field only, so they are decided once per tenant and field.
package intelgraph.abac

import data.intelgraph.roles.role_rank
import rego.v1

# Labels that are compartments: reading a record with one needs that compartment grant.
compartments := {"sanctions"}

# Attributes shown only to some members. A rule may ask for a clearance, a role, or a declared purpose.
field_rules := {
	"national_id": {"min_clearance": 3, "purpose_bound": true},
	"tax_id": {"min_clearance": 3},
	"passport_number": {"min_clearance": 3, "purpose_bound": true},
	"birth_date": {"min_role": "analyst"},
	"iban": {"min_role": "analyst"},
	"account_number": {"min_role": "analyst"},
}

# Relationship kinds shown only to some members (edges of other kinds follow the clearance rules alone).
edge_rules := {"transferred_to": {"min_role": "analyst"}}

# Purposes under which purpose-bound fields are shown, where the record's tenant has the purpose active:
# a purpose a tenant switched off unlocks nothing there. Merges and rollbacks need one too (purpose.rego).
# Listed in the order messages name them.
investigative_purposes := ["investigation", "fraud-risk"]

tenant_unlocking_purposes(tenant) := {p |
	some p in object.get(object.get(input, "tenant_purposes", {}), tenant, [])
	p in investigative_purposes
}

# Actions that may show a record the subject cannot read as a masked stub (kind and reason only),
# so a graph keeps its shape. Search never does: a stub would reveal that the record matched.
masking_actions := {"expand", "read"}

# A record more than this many levels above the subject's clearance is hidden, not masked.
mask_gap := 1

page := {"decisions": decisions, "fields": field_decisions}

decisions[r.id] := visibility(r) if some r in input.resources

field_decisions[tenant] := {name: x |
	some name in names
	x := field_denial(field_rules[name], input.subject.memberships[tenant], tenant)
} if some tenant, names in input.fields

membership(r) := input.subject.memberships[r.tenant]

granted(r) if r.granted == true

missing_compartments(r) := {c |
	some c in r.labels
	c in compartments
	not c in membership(r).compartments
}

masked_or_hidden(r) := "masked" if {
	input.action in masking_actions
	r.sensitivity - membership(r).clearance <= mask_gap
} else := "hidden"

visibility(r) := {"visibility": "hidden", "reason": "TENANT", "rule": "abac.tenant", "needs": {}} if {
	not input.subject.memberships[r.tenant]
} else := {"visibility": "visible", "reason": "GRANT", "rule": "abac.object_grant", "needs": {}} if {
	granted(r)
} else := d if {
	r.sensitivity > membership(r).clearance
	d := {
		"visibility": masked_or_hidden(r),
		"reason": "CLEARANCE",
		"rule": "abac.clearance",
		"needs": {"clearance": r.sensitivity, "grant": true},
	}
} else := d if {
	r.type == "relationship"
	rule := edge_rules[r.kind]
	role_rank[membership(r).role] < role_rank[rule.min_role]
	d := {
		"visibility": masked_or_hidden(r),
		"reason": "EDGE_ROLE",
		"rule": "abac.edge_role",
		"needs": {"role": rule.min_role},
	}
} else := d if {
	missing := missing_compartments(r)
	count(missing) > 0
	d := {
		"visibility": masked_or_hidden(r),
		"reason": "COMPARTMENT",
		"rule": "abac.compartment",
		"needs": {"compartments": sort(missing), "grant": true},
	}
} else := {"visibility": "visible", "reason": "", "rule": "abac.clearance", "needs": {}}

field_denial(rule, m, tenant) := x if {
	m.clearance < object.get(rule, "min_clearance", 0)
	x := {
		"reason": "FIELD_CLEARANCE",
		"rule": "abac.field_clearance",
		"needs": {"clearance": rule.min_clearance},
	}
} else := x if {
	role_rank[m.role] < role_rank[object.get(rule, "min_role", "reader")]
	x := {"reason": "FIELD_ROLE", "rule": "abac.field_role", "needs": {"role": rule.min_role}}
} else := x if {
	object.get(rule, "purpose_bound", false)
	not input.subject.purpose in tenant_unlocking_purposes(tenant)
	x := {
		"reason": "PURPOSE_REQUIRED",
		"rule": "abac.field_purpose",
		"needs": {"purpose": sort(tenant_unlocking_purposes(tenant))},
	}
}

# Changes through the admin (action admin-change): the role a member needs in the record's tenant
# to add, change or delete a record of each type. Input: subject only. Output: admin_change[<tenant id>][<type>].
admin_change_roles := {
	"entity": "analyst",
	"relationship": "analyst",
	"source": "analyst",
	"membership": "admin",
	"tenantpurpose": "admin",
	"apitoken": "admin",
	# a user account (profile, password, tokens): every tenant the user belongs to must agree
	"user": "admin",
	"tenant": "admin",
	# sharing a record beyond clearance and compartments (object grants)
	"grant": "admin",
	# entity resolution: deciding pairs and rolling merges back; thresholds
	"candidatepair": "reviewer",
	"merge": "reviewer",
	"tenantersettings": "admin",
	# which ER model scores the tenant's pairs
	"modelpin": "admin",
	# the audit log's keeping: legal holds and longer retention (apps.compliance.services)
	"legalhold": "compliance",
	"auditretentionoverride": "compliance",
	# access reviews: launching, deciding items (never one's own) and closing (apps.compliance.services)
	"accessreview": "compliance",
	# the statement of applicability and attestations of the SOC 2 controls
	"controlapplicability": "compliance",
	"controlattestation": "compliance",
	"evidencebundle": "compliance",
	# FinOps: budgets, their caps and decisions on raises (apps.finops); any staff member may ask for a raise
	"budget": "admin",
	"budgetcap": "admin",
	"overagerequest": "analyst",
}

# Reads of a tenant's own figures, not of records (action tenant-read): the role a member needs in the tenant.
# Input: subject only. Output: tenant_read[<tenant id>][<what>].
tenant_read_roles := {
	# what the tenant spent, by category, feature, model and day (apps.finops; GraphQL costs, admin drill-down)
	"costs": "analyst",
}

tenant_read[tenant] := {what: allowed |
	some what, min_role in tenant_read_roles
	allowed := role_rank[m.role] >= role_rank[min_role]
} if some tenant, m in input.subject.memberships

admin_change[tenant] := {kind: allowed |
	some kind, min_role in admin_change_roles
	allowed := role_rank[m.role] >= role_rank[min_role]
} if some tenant, m in input.subject.memberships
