# Helpers shared by the SwiftDeploy policies: input shape checks and number formatting.
# Nothing here decides anything; decisions live in infrastructure.rego and canary.rego.
#
# Portability notes (the policies must read the same in OPA and in rego-cpp/regopy):
# - messages are joined with concat, not sprintf("%s"): rego-cpp quotes computed strings
#   passed to %s, OPA does not;
# - numbers are formatted from integers with format_int, not sprintf("%.2f"): OPA returns an
#   error string for integral numbers there, rego-cpp formats them;
# - no input string is echoed unless it is a plain token: rego-cpp does not escape quotes or
#   newlines from input strings in its JSON output.
package swiftdeploy.lib

import rego.v1

# --- input shape -----------------------------------------------------------------

# Why input.context is unusable for a policy that answers `expected` (undefined when fine).
context_problem(expected) := concat("", ["input.context is missing; expected \"", expected, "\""]) if {
	not has_key(input, "context")
}

context_problem(expected) := concat("", [
	"input.context must be a string such as \"", expected, "\", got ", type_name(input.context),
]) if {
	has_key(input, "context")
	not is_string(input.context)
}

context_problem(expected) := concat("", [
	"context \"", input.context, "\" is not \"", expected, "\"; this policy only answers ", expected, " checks",
]) if {
	is_string(input.context)
	input.context != expected
	plain_token(input.context)
}

context_problem(expected) := concat("", [
	"input.context is not \"", expected, "\"; this policy only answers ", expected, " checks",
]) if {
	is_string(input.context)
	input.context != expected
	not plain_token(input.context)
}

# Why input.<section> is unusable: absent, or not an object.
section_problem(section) := concat("", ["input.", section, " is missing; it must be an object"]) if {
	not has_key(input, section)
}

section_problem(section) := concat("", ["input.", section, " must be an object, got ", type_name(input[section])]) if {
	has_key(input, section)
	not is_object(input[section])
}

# Why input.<section>.<key> is not a usable number. Only asked when the section is an object,
# so a missing section yields one reason instead of one per field.
number_problem(section, key) := concat("", ["input.", section, ".", key, " is missing; it must be a number"]) if {
	is_object(input[section])
	not has_key(input[section], key)
}

number_problem(section, key) := concat("", ["input.", section, ".", key, " must be a number, got ", type_name(value)]) if {
	value := input[section][key]
	not is_number(value)
}

# Counts (requests) must also be whole: 7.5 requests is a broken collector, not a measurement.
whole_problem(section, key) := concat("", ["input.", section, ".", key, " must be a whole number, got ", fixed2(value)]) if {
	value := input[section][key]
	is_number(value)
	value != floor(value)
}

# Every problem with the [section, key] number fields and [section, key] whole-number fields.
shape_problems(number_fields, whole_fields) := (sections | numbers) | wholes if {
	sections := {msg | some s in {f[0] | some f in number_fields}; msg := section_problem(s)}
	numbers := {msg | some f in number_fields; msg := number_problem(f[0], f[1])}
	wholes := {msg | some f in whole_fields; msg := whole_problem(f[0], f[1])}
}

# True when every listed field is a number (and every whole field is whole).
numbers_ok(number_fields, whole_fields) if {
	every f in number_fields {
		is_number(input[f[0]][f[1]])
	}
	every f in whole_fields {
		is_number(input[f[0]][f[1]])
		input[f[0]][f[1]] == floor(input[f[0]][f[1]])
	}
}

has_key(obj, key) if {
	is_object(obj)
	_ = obj[key]
}

plain_token(s) if regex.match(`^[A-Za-z0-9_.:-]{1,64}$`, s)

# --- number formatting -----------------------------------------------------------

# 3.2 -> "3.20", 10 -> "10.00", -0.5 -> "-0.50"
fixed2(x) := from_units(round(x * 100), 100, 2)

# 9.9999 -> "9.9999"; used when two decimals would make a value look equal to its limit.
fixed4(x) := from_units(round(x * 10000), 10000, 4)

# 0.412 -> "41.20%"
percent(ratio) := concat("", [fixed2(ratio * 100), "%"])

# An observed value next to its limit, with enough decimals that they never look equal:
# "disk free 9.9990 GB is below the minimum 10.00 GB", not "10.00 ... 10.00".
beside(x, limit) := fixed2(x) if fixed2(x) != fixed2(limit)

beside(x, limit) := fixed4(x) if fixed2(x) == fixed2(limit)

beside_percent(ratio, limit) := percent(ratio) if percent(ratio) != percent(limit)

beside_percent(ratio, limit) := concat("", [fixed4(ratio * 100), "%"]) if percent(ratio) == percent(limit)

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
