# Helpers shared by the SwiftDeploy policies: input shape checks and number formatting.
# Nothing here decides anything; decisions live in infrastructure.rego and canary.rego.
#
# Portability notes (the policies must read the same in OPA and in rego-cpp/regopy):
# - messages are joined with concat, not sprintf("%s"): rego-cpp quotes computed strings
#   passed to %s, OPA does not;
# - numbers are formatted from integers with format_int, not sprintf("%.2f"): OPA returns an
#   error string for integral numbers there, rego-cpp formats them;
# - no input string is echoed unless it is a plain token: rego-cpp does not escape quotes or
#   newlines from input strings in its JSON output;
# - no `not` over a call whose argument may be undefined: OPA evaluates the arguments first, so
#   `not is_number(input.x)` is undefined (false) when input.x is missing, where rego-cpp says
#   true. Ask a helper that takes only defined arguments instead (`not usable_at("s", "k")`),
#   and read the input through `doc`, which is defined even when OPA got no input at all;
# - numbers are rounded from whole millionths with integer arithmetic (see `in_steps`): OPA
#   computes with more than double precision, so round(79.715 * 100) is 7971 there and 7972 in
#   rego-cpp; and numbers of magnitude 10^9 or more are refused (`max_magnitude`), since
#   neither evaluator can print them alike.
package swiftdeploy.lib

import rego.v1

# --- input shape -----------------------------------------------------------------

# The input document as an object: {} when there is none or it is not an object. Without an
# input OPA leaves `input` undefined, so `not has_key(input, k)` would be undefined too (see
# the notes above), while rego-cpp sees null. Reading the input through `doc` gives both
# evaluators the same empty object, so both name every missing field.
default doc := {}

doc := input if is_object(input)

# Why input.context is unusable for a policy that answers `expected` (undefined when fine).
context_problem(expected) := concat("", ["input.context is missing; expected \"", expected, "\""]) if {
	not has_key(doc, "context")
}

context_problem(expected) := concat("", [
	"input.context must be a string such as \"", expected, "\", got ", type_name(doc.context),
]) if {
	has_key(doc, "context")
	not is_string(doc.context)
}

context_problem(expected) := concat("", [
	"context \"", doc.context, "\" is not \"", expected, "\"; this policy only answers ", expected, " checks",
]) if {
	is_string(doc.context)
	doc.context != expected
	plain_token(doc.context)
}

context_problem(expected) := concat("", [
	"input.context is not \"", expected, "\"; this policy only answers ", expected, " checks",
]) if {
	is_string(doc.context)
	doc.context != expected
	not plain_token(doc.context)
}

# Why input.<section> is unusable: absent, or not an object.
section_problem(section) := concat("", ["input.", section, " is missing; it must be an object"]) if {
	not has_key(doc, section)
}

section_problem(section) := concat("", ["input.", section, " must be an object, got ", type_name(doc[section])]) if {
	has_key(doc, section)
	not is_object(doc[section])
}

# Why input.<section>.<key> is not a usable number. Only asked when the section is an object,
# so a missing section yields one reason instead of one per field.
number_problem(section, key) := concat("", ["input.", section, ".", key, " is missing; it must be a number"]) if {
	is_object(doc[section])
	not has_key(doc[section], key)
}

number_problem(section, key) := concat("", ["input.", section, ".", key, " must be a number, got ", type_name(value)]) if {
	value := doc[section][key]
	not is_number(value)
}

number_problem(section, key) := range_problem(concat("", ["input.", section, ".", key])) if {
	value := doc[section][key]
	is_number(value)
	abs(value) >= max_magnitude
}

# "<what> is out of range; ..." for a number whose magnitude is max_magnitude or more.
range_problem(what) := concat("", [
	what, " is out of range; it must be a number between -",
	format_int(max_magnitude, 10), " and ", format_int(max_magnitude, 10),
])

# Counts (requests) must also be whole: 7.5 requests is a broken collector, not a measurement.
whole_problem(section, key) := concat("", ["input.", section, ".", key, " must be a whole number, got ", fixed2(value)]) if {
	value := doc[section][key]
	usable(value)
	value != floor(value)
}

# Every problem with the [section, key] number fields and [section, key] whole-number fields.
shape_problems(number_fields, whole_fields) := (sections | numbers) | wholes if {
	sections := {msg | some s in {f[0] | some f in number_fields}; msg := section_problem(s)}
	numbers := {msg | some f in number_fields; msg := number_problem(f[0], f[1])}
	wholes := {msg | some f in whole_fields; msg := whole_problem(f[0], f[1])}
}

# True when every listed field is a usable number (and every whole field is whole).
numbers_ok(number_fields, whole_fields) if {
	every f in number_fields {
		usable(doc[f[0]][f[1]])
	}
	every f in whole_fields {
		usable(doc[f[0]][f[1]])
		doc[f[0]][f[1]] == floor(doc[f[0]][f[1]])
	}
}

# Numbers from 10^9 in magnitude are refused: every measurement and limit is far below it,
# and below it x * 10^6 is still an exact whole number in a double, so both evaluators round
# and print the number alike (see `in_steps`). The manifest's limits are validated far below.
max_magnitude := 1000000000

# True when x is a number the policies can compare and print.
usable(x) if {
	is_number(x)
	abs(x) < max_magnitude
}

# True when input.<section>.<key> is usable; safe under `not` (see the notes above).
usable_at(section, key) if usable(doc[section][key])

has_key(obj, key) if {
	is_object(obj)
	_ = obj[key]
}

plain_token(s) if regex.match(`^[A-Za-z0-9_.:-]{1,64}$`, s)

# --- number formatting -----------------------------------------------------------

# 3.2 -> "3.20", 10 -> "10.00", -0.5 -> "-0.50", 79.715 -> "79.72"
fixed2(x) := from_units(in_steps(x, 10000), 100, 2)

# 9.9999 -> "9.9999"; used when two decimals would make a value look equal to its limit.
fixed4(x) := from_units(in_steps(x, 100), 10000, 4)

# 0.412 -> "41.20%" (the ratio in hundredths of a percent, i.e. steps of 100 millionths)
percent(ratio) := concat("", [from_units(in_steps(ratio, 100), 100, 2), "%"])

# 0.01001 -> "1.0010%"
percent4(ratio) := concat("", [from_units(in_steps(ratio, 1), 10000, 4), "%"])

# x as a whole number of steps of `step` millionths, rounded half away from zero.
# round(x * 10^6) is the only rounding of a fraction: for any input with at most six decimals
# x * 10^6 lies within a hair of a whole number in both evaluators, so they agree on it; what
# follows is integer arithmetic, exact in both (|x| < max_magnitude keeps it below 2^53).
in_steps(x, step) := signed(micros, floor((abs(micros) + (step / 2)) / step)) if {
	micros := round(x * 1000000)
}

signed(reference, n) := n if reference >= 0

signed(reference, n) := 0 - n if reference < 0

# An observed value next to its limit, with enough decimals that they never look equal:
# "disk free 9.9990 GB is below the minimum 10.00 GB", not "10.00 ... 10.00".
beside(x, limit) := fixed2(x) if fixed2(x) != fixed2(limit)

beside(x, limit) := fixed4(x) if fixed2(x) == fixed2(limit)

beside_percent(ratio, limit) := percent(ratio) if percent(ratio) != percent(limit)

beside_percent(ratio, limit) := percent4(ratio) if percent(ratio) == percent(limit)

# A whole number of 1/scale units as a decimal string with `places` digits after the point.
from_units(units, scale, places) := concat("", [minus_sign(units), format_int(whole, 10), ".", padded]) if {
	whole := floor(abs(units) / scale)
	digits := format_int(abs(units) - (whole * scale), 10)
	padded := concat("", [substring("0000", 0, places - count(digits)), digits])
}

# 60 -> "60", 7.0 -> "7", 2.5 -> "2.50"
plain(x) := format_int(x, 10) if x == floor(x)

plain(x) := fixed2(x) if x != floor(x)

minus_sign(units) := "-" if units < 0

minus_sign(units) := "" if units >= 0
