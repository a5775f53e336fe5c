# Purpose of use: which actions need a declared purpose, and which purposes they accept.
#
# Input: action, subject.purpose (may be null), tenant_purposes (the purposes the tenant has configured).
# Output: check = {allowed, bound, reason, needs: {purpose: [...]}}
package intelgraph.purpose

import rego.v1

# Actions refused without a declared purpose.
purpose_bound_actions := {"export", "merge", "rollback"}

# Plan, Policy Delta: ER materialization requires purpose in {investigation, fraud-risk}.
action_purposes := {"merge": {"investigation", "fraud-risk"}, "rollback": {"investigation", "fraud-risk"}}

check := {"allowed": true, "bound": false, "reason": "", "needs": {}} if {
	not input.action in purpose_bound_actions
} else := {"allowed": false, "bound": true, "reason": "PURPOSE_MISSING", "needs": {"purpose": sort(allowed_for_action)}} if {
	purpose_missing
} else := {"allowed": false, "bound": true, "reason": "PURPOSE_UNKNOWN", "needs": {"purpose": sort(allowed_for_action)}} if {
	not input.subject.purpose in input.tenant_purposes
} else := {"allowed": false, "bound": true, "reason": "PURPOSE_NOT_PERMITTED", "needs": {"purpose": sort(allowed_for_action)}} if {
	not input.subject.purpose in allowed_for_action
} else := {"allowed": true, "bound": true, "reason": "", "needs": {}}

allowed_for_action := action_purposes[input.action] & {p | some p in input.tenant_purposes} if {
	action_purposes[input.action]
} else := {p | some p in input.tenant_purposes}

purpose_missing if not input.subject.purpose

purpose_missing if input.subject.purpose == null
