# Infrastructure gate: is the host fit to deploy on?
#
# Input (built by swiftlib.policy.inputs.infrastructure_input):
#   {"context": "pre_deploy",
#    "stats":  {"disk_free_gb", "cpu_load", "cpu_count", "mem_available_mb"},
#    "limits": {"min_disk_free_gb", "max_cpu_load", "min_certificate_days"},
#    "tls":    {"days_left", "renews"}}          (HTTPS deployments only)
# Every threshold comes from input.limits (manifest.yaml policy_limits); none is written here.
# A missing or mistyped field denies with a reason naming it; the decision is always defined.
package swiftdeploy.infrastructure

import rego.v1

import data.swiftdeploy.lib

question := "is the host fit to deploy on?"

expected_context := "pre_deploy"

number_fields := [
	["stats", "disk_free_gb"],
	["stats", "cpu_load"],
	["stats", "cpu_count"],
	["stats", "mem_available_mb"],
	["limits", "min_disk_free_gb"],
	["limits", "max_cpu_load"],
]

whole_fields := []

decision := {
	"domain": "infrastructure",
	"question": question,
	"allow": allow,
	"reasons": reasons,
}

# allow is derived from the conditions themselves, not from "no reasons were produced",
# so a reason that fails to render can never turn into an allow.
default allow := false

allow if {
	input.context == expected_context
	lib.numbers_ok(number_fields, whole_fields)
	input.stats.disk_free_gb >= input.limits.min_disk_free_gb
	input.stats.cpu_load <= input.limits.max_cpu_load
	tls_ok
}

# --- the certificate (only when input.tls is there) ---------------------------------
# A deploy is denied while the certificate it will serve expires within
# limits.min_certificate_days, unless the deploy renews it itself (tls.renews: a local or ACME
# certificate due for renewal).
tls_number_fields := [["tls", "days_left"], ["limits", "min_certificate_days"]]

tls_whole_fields := [["limits", "min_certificate_days"]]

default tls_ok := false

tls_ok if not lib.has_key(lib.doc, "tls")

tls_ok if {
	lib.numbers_ok(tls_number_fields, tls_whole_fields)
	lib.doc.tls.renews == true
}

tls_ok if {
	lib.numbers_ok(tls_number_fields, tls_whole_fields)
	lib.doc.tls.renews == false
	lib.doc.tls.days_left >= lib.doc.limits.min_certificate_days
}

renews_is_boolean if is_boolean(lib.doc.tls.renews)

# [order, reason] pairs; the order keeps context first, then shape, then thresholds.
violations contains [1, msg] if {
	msg := lib.context_problem(expected_context)
}

violations contains [2, msg] if {
	some msg in lib.shape_problems(number_fields, whole_fields)
}

violations contains [3, msg] if {
	disk := input.stats.disk_free_gb
	minimum := input.limits.min_disk_free_gb
	lib.usable(disk)
	lib.usable(minimum)
	disk < minimum
	msg := concat("", ["disk free ", lib.beside(disk, minimum), " GB is below the minimum ", lib.fixed2(minimum), " GB"])
}

violations contains [4, msg] if {
	load := input.stats.cpu_load
	maximum := input.limits.max_cpu_load
	lib.usable(load)
	lib.usable(maximum)
	load > maximum
	msg := concat("", ["cpu load ", lib.beside(load, maximum), " exceeds the maximum ", lib.fixed2(maximum)])
}

violations contains [2, msg] if {
	lib.has_key(lib.doc, "tls")
	some msg in lib.shape_problems(tls_number_fields, tls_whole_fields)
}

violations contains [2, "input.tls.renews must be true or false"] if {
	is_object(lib.doc.tls)
	not renews_is_boolean
}

violations contains [5, msg] if {
	lib.usable_at("tls", "days_left")
	lib.usable_at("limits", "min_certificate_days")
	lib.doc.tls.renews == false
	days := lib.doc.tls.days_left
	minimum := lib.doc.limits.min_certificate_days
	days < minimum
	msg := concat("", [
		"the certificate expires in ", lib.beside(days, minimum), " days, below the minimum of ",
		lib.plain(minimum), " days; replace it (tls.files) before deploying",
	])
}

failures := [msg | some v in sort(violations); msg := v[1]]

default reasons := ["infrastructure policy could not state its reasons; check the policy input"]

reasons := failures if {
	not allow
	failures != []
}

reasons := [concat("", [
	"infrastructure policy passed: disk free ", lib.fixed2(input.stats.disk_free_gb),
	" GB (minimum ", lib.fixed2(input.limits.min_disk_free_gb),
	" GB), cpu load ", lib.fixed2(input.stats.cpu_load),
	" (maximum ", lib.fixed2(input.limits.max_cpu_load), ")",
])] if {
	allow
}
