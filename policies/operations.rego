# Persisted operations (graphql/safelist.json): who may run one, and which access actions it may use.
#
# Input:  operation {id, roles: [role, ...], abac: [tag, ...]}, subject {memberships: {<tenant id>: {role, ...}}}
# Output: check = {allowed, reason, needs: {role}, actions: [action, ...]}
# An operation declares ABAC tags; while it runs, the enforcement layer decides only the actions its tags
# name (apps.access.services.decide), so a document cannot read more than its entry in the safelist says.
package intelgraph.operations

import data.intelgraph.roles.role_rank
import rego.v1

# The safelist's ABAC tags and the access actions each lets an operation use.
tag_actions := {
	"entity.search": {"search"},
	"entity.read": {"read"},
	"entity.expand": {"expand"},
	"entity.export": {"export"},
	# a tenant's own figures (tenant_read in abac.rego): what it spent
	"tenant.costs": {"costs"},
}

unknown_tags := {tag | some tag in input.operation.abac; not tag_actions[tag]}

actions := {action | some tag in input.operation.abac; some action in tag_actions[tag]}

min_rank := min({role_rank[role] | some role in input.operation.roles})

# Roles rank uniquely, so one role has the lowest rank.
min_role := role if {
	some role in input.operation.roles
	role_rank[role] == min_rank
}

has_role if count(input.operation.roles) == 0

has_role if {
	some _, membership in input.subject.memberships
	role_rank[membership.role] >= min_rank
}

check := {"allowed": false, "reason": "UNKNOWN_TAG", "needs": {}, "actions": []} if {
	count(unknown_tags) > 0
} else := {"allowed": true, "reason": "", "needs": {}, "actions": sort(actions)} if {
	has_role
} else := {"allowed": false, "reason": "OPERATION_ROLE", "needs": {"role": min_role}, "actions": []}
