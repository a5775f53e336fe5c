# Purpose of use: which actions need a declared purpose, and which purposes they accept.
#
# Input: action, subject.purpose (may be null), tenant_purposes (the purposes the tenant has configured).
# Output: check = {allowed, bound, reason, needs: {purpose: [...]}}
#         accepted = [code, ...]: the purposes the action accepts in the tenant, in the order action_purposes
#         lists them (no subject needed: for merges no reviewer declares, e.g. an er_run's auto-merges)
package intelgraph.purpose

import data.intelgraph.abac.investigative_purposes
import rego.v1

# Actions refused without a declared purpose.
purpose_bound_actions := {"export", "merge", "rollback"}

# Plan, Policy Delta: ER materialization requires an investigative purpose (investigation, fraud-risk).
action_purposes := {"merge": investigative_purposes, "rollback": investigative_purposes}

check := {"allowed": true, "bound": false, "reason": "", "needs": {}} if {
	not input.action in purpose_bound_actions
} else := {"allowed": false, "bound": true, "reason": "PURPOSE_MISSING", "needs": {"purpose": sort(allowed_for_action)}} if {
	purpose_missing
} else := {"allowed": false, "bound": true, "reason": "PURPOSE_UNKNOWN", "needs": {"purpose": sort(allowed_for_action)}} if {
	not input.subject.purpose in input.tenant_purposes
} else := {"allowed": false, "bound": true, "reason": "PURPOSE_NOT_PERMITTED", "needs": {"purpose": sort(allowed_for_action)}} if {
	not input.subject.purpose in allowed_for_action
} else := {"allowed": true, "bound": true, "reason": "", "needs": {}}

# An action with its own list accepts the tenant's active purposes among it; any other, every active purpose.
accepted := [p |
	some p in action_purposes[input.action]
	p in input.tenant_purposes
] if {
	action_purposes[input.action]
} else := [p | some p in input.tenant_purposes]

allowed_for_action := {p | some p in accepted}

purpose_missing if not input.subject.purpose

purpose_missing if input.subject.purpose == null
