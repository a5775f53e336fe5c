# Roles: which there are, in which order, and who holds at least a given one. The one place roles rank:
# abac.rego and operations.rego compare through role_rank, Python asks through apps.access.ranks.
#
# Input:  held {<key>: role} (a subject's role in each tenant by tenant id, or any roles by a caller's key),
#         least (a role, optional)
# Output: check = {at_least: [key, ...] whose role is `least` or higher (sorted), highest: the highest role held,
#         or null when none is}
# A role the policy does not know holds nothing: it is never at least any role, and never the highest.
package intelgraph.roles

import rego.v1

# From the least to the most: each role includes the ones before it. A literal object, not a comprehension over a
# list: the evaluator does not memoise comprehensions, and every visibility and field rule reads role_rank
# (a comprehension here made each abac evaluation about 6x slower).
role_rank := {"reader": 0, "analyst": 1, "reviewer": 2, "compliance": 3, "admin": 4}

roles := [role |
	some rank in numbers.range(0, count(role_rank) - 1)
	some role
	role_rank[role] == rank
]

held := object.get(input, "held", {})

at_least := sort([key |
	some key
	role := held[key]
	role_rank[role] >= role_rank[input.least]
])

ranks_held := {role_rank[role] | some role in held}

default highest := null

highest := roles[max(ranks_held)] if count(ranks_held) > 0

check := {"at_least": at_least, "highest": highest}
