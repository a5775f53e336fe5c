# Deprecation guard for the GraphQL schema (plan: "OPA (deprecation access guard)").
#
# Input: fields (["Type.field", ...]) an operation touches, today ("YYYY-MM-DD").
# Output: denied = {"Type.field": {eol, replacement}} for deprecated fields past their end of life.
package intelgraph.schema

import rego.v1

# field -> when it was deprecated (RFC 9745's Deprecation header), its end of life (RFC 8594's Sunset, and this
# guard's date) and what to use instead. The window from deprecation to EOL is at least six months.
deprecations := {"Attribute.value": {"deprecated": "2025-09-30", "eol": "2026-03-31", "replacement": "Attribute.text"}}

deprecated(field) if deprecations[field]

allow_field(field) if not deprecated(field)

allow_field(field) if {
	deprecated(field)
	input.today <= deprecations[field].eol
}

denied[field] := deprecations[field] if {
	some field in input.fields
	not allow_field(field)
}
