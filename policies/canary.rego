# Canary gate: is the canary healthy enough to promote?
#
# Input (built by swiftlib.policy.inputs.canary_input):
#   {"context": "pre_promote",
#    "metrics": {"error_rate", "p99_latency_ms", "requests", "window_seconds"},
#    "limits":  {"max_error_rate", "max_p99_latency_ms", "min_requests"}}
# error_rate and max_error_rate are ratios (0.01 = 1%). Every threshold comes from
# input.limits (manifest.yaml policy_limits); none is written here. A missing or mistyped
# field denies with a reason naming it; the decision is always defined.
package swiftdeploy.canary

import rego.v1

import data.swiftdeploy.lib

question := "is the canary healthy enough to promote?"

expected_context := "pre_promote"

number_fields := [
	["metrics", "error_rate"],
	["metrics", "p99_latency_ms"],
	["metrics", "requests"],
	["metrics", "window_seconds"],
	["limits", "max_error_rate"],
	["limits", "max_p99_latency_ms"],
	["limits", "min_requests"],
]

whole_fields := [
	["metrics", "requests"],
	["limits", "min_requests"],
]

decision := {
	"domain": "canary",
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
	input.metrics.requests >= input.limits.min_requests
	input.metrics.error_rate <= input.limits.max_error_rate
	input.metrics.p99_latency_ms <= input.limits.max_p99_latency_ms
}

# [order, reason] pairs; the order keeps context first, then shape, then thresholds.
violations contains [1, msg] if {
	msg := lib.context_problem(expected_context)
}

violations contains [2, msg] if {
	some msg in lib.shape_problems(number_fields, whole_fields)
}

violations contains [3, msg] if {
	requests := input.metrics.requests
	needed := input.limits.min_requests
	window := input.metrics.window_seconds
	lib.usable(requests)
	lib.usable(needed)
	lib.usable(window)
	requests < needed
	msg := concat("", [
		"only ", lib.plain(requests), " requests in the last ", lib.plain(window),
		"s window; at least ", lib.plain(needed), " are needed",
	])
}

# Without a usable window the request count still fails, just without naming the window.
violations contains [3, msg] if {
	requests := input.metrics.requests
	needed := input.limits.min_requests
	lib.usable(requests)
	lib.usable(needed)
	not lib.usable_at("metrics", "window_seconds")
	requests < needed
	msg := concat("", ["only ", lib.plain(requests), " requests observed; at least ", lib.plain(needed), " are needed"])
}

violations contains [4, msg] if {
	rate := input.metrics.error_rate
	maximum := input.limits.max_error_rate
	lib.usable(rate)
	lib.usable(maximum)
	rate > maximum
	msg := concat("", ["error rate ", lib.beside_percent(rate, maximum), " exceeds the maximum ", lib.percent(maximum)])
}

violations contains [5, msg] if {
	p99 := input.metrics.p99_latency_ms
	maximum := input.limits.max_p99_latency_ms
	lib.usable(p99)
	lib.usable(maximum)
	p99 > maximum
	msg := concat("", ["p99 latency ", lib.beside(p99, maximum), " ms exceeds the maximum ", lib.fixed2(maximum), " ms"])
}

failures := [msg | some v in sort(violations); msg := v[1]]

default reasons := ["canary policy could not state its reasons; check the policy input"]

reasons := failures if {
	not allow
	failures != []
}

reasons := [concat("", [
	"canary policy passed: ", lib.plain(input.metrics.requests),
	" requests in ", lib.plain(input.metrics.window_seconds),
	"s (minimum ", lib.plain(input.limits.min_requests),
	"), error rate ", lib.percent(input.metrics.error_rate),
	" (maximum ", lib.percent(input.limits.max_error_rate),
	"), p99 latency ", lib.fixed2(input.metrics.p99_latency_ms),
	" ms (maximum ", lib.fixed2(input.limits.max_p99_latency_ms), " ms)",
])] if {
	allow
}
