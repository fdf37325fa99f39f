# Infrastructure gate: is the host fit to deploy on?
#
# Input (built by swiftlib.policy.inputs.infrastructure_input):
#   {"context": "pre_deploy",
#    "stats":  {"disk_free_gb", "cpu_load", "cpu_count", "mem_available_mb"},
#    "limits": {"min_disk_free_gb", "max_cpu_load"}}
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
}

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
