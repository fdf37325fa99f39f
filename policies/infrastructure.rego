# Infrastructure gate: is the host fit to deploy on?
#
# Input (built by swiftlib.policy.inputs.infrastructure_input):
#   {"context": "pre_deploy",
#    "stats":  {"disk_free_gb", "cpu_load", "cpu_count", "mem_available_mb"},
#    "limits": {"min_disk_free_gb", "max_cpu_load", "min_certificate_days"},
#    "tls":    {"days_left", "renews"},          (HTTPS deployments only)
#    "cluster": {"nodes_desired", "nodes_ready", "managers_desired", "managers_reachable",
#                "nodes": [{"name", "role", "ready", "reachable", "disk_free_gb", "cpu_load"}]}}
#                                                 (deploy.runtime swarm only; limits then has max_nodes_down)
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
	cluster_ok
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

# [order, reason] pairs; the order keeps context first, then shape, then thresholds (the acting
# host's, the certificate, then the cluster's: quorum, nodes down, each node's disk, each node's load).
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

# --- the cluster (only when input.cluster is there: a swarm) --------------------------
# input.stats stays the acting manager's; input.cluster holds one entry per node the inventory
# names. A deploy is denied when a node SSH reached has less disk free or more load than the
# limits, when the reachable managers are not a majority of the managers wanted (the swarm has
# lost its quorum and cannot change services), or when more nodes than limits.max_nodes_down are
# not ready. A node SSH did not reach is not measured (its numbers may be null); the swarm's view
# of it still counts.
cluster_count_fields := [
	["cluster", "nodes_desired"],
	["cluster", "nodes_ready"],
	["cluster", "managers_desired"],
	["cluster", "managers_reachable"],
	["limits", "max_nodes_down"],
]

node_roles := {"manager", "worker"}

# What each field of a node must be, in words (also the fields every node must have).
node_expected := {
	"name": "a string",
	"role": "\"manager\" or \"worker\"",
	"ready": "true or false",
	"reachable": "true or false",
}

# Measured on every node SSH reached.
node_number_keys := ["disk_free_gb", "cpu_load"]

default cluster_ok := false

cluster_ok if not lib.has_key(lib.doc, "cluster")

cluster_ok if {
	lib.numbers_ok(cluster_count_fields, cluster_count_fields)
	is_array(lib.doc.cluster.nodes)
	every i, _ in lib.doc.cluster.nodes {
		node_fine(i)
	}
	quorum
	within_nodes_down
}

cluster_nodes := lib.doc.cluster.nodes if is_array(lib.doc.cluster.nodes)

# Raft needs a majority: more managers reachable than not.
quorum if {
	lib.usable_at("cluster", "managers_desired")
	lib.usable_at("cluster", "managers_reachable")
	lib.doc.cluster.managers_reachable > lib.doc.cluster.managers_desired - lib.doc.cluster.managers_reachable
}

nodes_down := lib.doc.cluster.nodes_desired - lib.doc.cluster.nodes_ready if {
	lib.usable_at("cluster", "nodes_desired")
	lib.usable_at("cluster", "nodes_ready")
}

within_nodes_down if {
	lib.usable_at("limits", "max_nodes_down")
	nodes_down <= lib.doc.limits.max_nodes_down
}

node_fine(i) if {
	node_shape_ok(i)
	cluster_nodes[i].reachable == false
}

node_fine(i) if {
	node_shape_ok(i)
	node := cluster_nodes[i]
	node.reachable == true
	lib.usable_at("limits", "min_disk_free_gb")
	lib.usable_at("limits", "max_cpu_load")
	node.disk_free_gb >= lib.doc.limits.min_disk_free_gb
	node.cpu_load <= lib.doc.limits.max_cpu_load
}

node_shape_ok(i) if {
	is_object(cluster_nodes[i])
	every key, _ in node_expected {
		node_field_ok(i, key)
	}
	measured_ok(i)
}

node_field_ok(i, key) if {
	key == "name"
	is_string(cluster_nodes[i].name)
}

node_field_ok(i, key) if {
	key == "role"
	cluster_nodes[i].role in node_roles
}

node_field_ok(i, key) if {
	key in {"ready", "reachable"}
	is_boolean(cluster_nodes[i][key])
}

measured_ok(i) if cluster_nodes[i].reachable == false

measured_ok(i) if {
	cluster_nodes[i].reachable == true
	lib.usable(cluster_nodes[i].disk_free_gb)
	lib.usable(cluster_nodes[i].cpu_load)
}

node_ready(i) if cluster_nodes[i].ready == true

node_reached(i) if cluster_nodes[i].reachable == true

manager_up(i) if cluster_nodes[i].manager_reachable == true

# How a reason names a node: its inventory name when it is a plain token, else its place in the input.
node_ref(i) := concat("", ["input.cluster.nodes[", lib.plain(i), "]"])

plain_name(i) if {
	is_string(cluster_nodes[i].name)
	lib.plain_token(cluster_nodes[i].name)
}

node_label(i) := cluster_nodes[i].name if plain_name(i)

node_label(i) := node_ref(i) if not plain_name(i)

# " (a, b)" after a count, or nothing when no node is named.
listed(prefix, names) := "" if names == []

listed(prefix, names) := concat("", [" (", prefix, concat(", ", names), ")"]) if names != []

# Named in index order (inventory order: managers first). The indices are sets of their own:
# rego-cpp reads `[x | some i, v in ...]` as an array of two terms.
down_index contains i if {
	some i, _ in cluster_nodes
	not node_ready(i)
}

unreachable_manager_index contains i if {
	some i, node in cluster_nodes
	is_object(node)
	node.role == "manager"
	not manager_up(i)
}

unmeasured_index contains i if {
	some i, _ in cluster_nodes
	not node_reached(i)
}

down_nodes := [label | some i in sort(down_index); label := node_label(i)]

unreachable_managers := [label | some i in sort(unreachable_manager_index); label := node_label(i)]

unmeasured_nodes := [label | some i in sort(unmeasured_index); label := node_label(i)]

violations contains [2, msg] if {
	lib.has_key(lib.doc, "cluster")
	some msg in lib.shape_problems(cluster_count_fields, cluster_count_fields)
}

violations contains [2, "input.cluster.nodes is missing; it must be an array"] if {
	is_object(lib.doc.cluster)
	not lib.has_key(lib.doc.cluster, "nodes")
}

violations contains [2, msg] if {
	nodes := lib.doc.cluster.nodes
	not is_array(nodes)
	msg := concat("", ["input.cluster.nodes must be an array, got ", type_name(nodes)])
}

violations contains [2, msg] if {
	some i, node in cluster_nodes
	not is_object(node)
	msg := concat("", [node_ref(i), " must be an object, got ", type_name(node)])
}

violations contains [2, msg] if {
	some i, node in cluster_nodes
	is_object(node)
	some key, expected in node_expected
	not lib.has_key(node, key)
	msg := concat("", [node_ref(i), ".", key, " is missing; it must be ", expected])
}

violations contains [2, msg] if {
	some i, node in cluster_nodes
	is_object(node)
	some key, expected in node_expected
	value := node[key]
	not node_field_ok(i, key)
	msg := concat("", [node_ref(i), ".", key, " must be ", expected, got_type(key, value)])
}

# ", got <type>" after what a node's field must be; nothing for a role that is a string (only its value is wrong).
got_type(key, value) := "" if role_string(key, value)

got_type(key, value) := concat("", [", got ", type_name(value)]) if not role_string(key, value)

role_string(key, value) if {
	key == "role"
	is_string(value)
}

violations contains [2, msg] if {
	some i, node in cluster_nodes
	is_object(node)
	node.reachable == true
	some key in node_number_keys
	not lib.has_key(node, key)
	msg := concat("", [node_ref(i), ".", key, " is missing; it must be a number (the node was reached)"])
}

violations contains [2, msg] if {
	some i, node in cluster_nodes
	is_object(node)
	node.reachable == true
	some key in node_number_keys
	value := node[key]
	not is_number(value)
	msg := concat("", [node_ref(i), ".", key, " must be a number (the node was reached), got ", type_name(value)])
}

violations contains [2, msg] if {
	some i, node in cluster_nodes
	is_object(node)
	node.reachable == true
	some key in node_number_keys
	value := node[key]
	is_number(value)
	abs(value) >= lib.max_magnitude
	msg := lib.range_problem(concat("", [node_ref(i), ".", key]))
}

violations contains [6, msg] if {
	lib.usable_at("cluster", "managers_desired")
	lib.usable_at("cluster", "managers_reachable")
	not quorum
	msg := concat("", [
		"swarm quorum lost: ", lib.plain(lib.doc.cluster.managers_reachable), " of ",
		lib.plain(lib.doc.cluster.managers_desired), " managers reachable, not a majority",
		listed("not reachable: ", unreachable_managers),
		"; the swarm cannot deploy until a majority of its managers is back (see `inv cluster`)",
	])
}

violations contains [7, msg] if {
	lib.usable_at("limits", "max_nodes_down")
	down := nodes_down
	not within_nodes_down
	msg := concat("", [
		"nodes not ready: ", lib.plain(down), " of ", lib.plain(lib.doc.cluster.nodes_desired),
		listed("", down_nodes), ", more than policy_limits.infrastructure.max_nodes_down allows (",
		lib.plain(lib.doc.limits.max_nodes_down), "); bring them back (see `inv cluster`), or raise ",
		"policy_limits.infrastructure.max_nodes_down to deploy anyway",
	])
}

violations contains [8, msg] if {
	some i, node in cluster_nodes
	is_object(node)
	node.reachable == true
	disk := node.disk_free_gb
	minimum := lib.doc.limits.min_disk_free_gb
	lib.usable(disk)
	lib.usable(minimum)
	disk < minimum
	msg := concat("", [
		"node ", node_label(i), ": disk free ", lib.beside(disk, minimum), " GB is below the minimum ",
		lib.fixed2(minimum), " GB",
	])
}

violations contains [9, msg] if {
	some i, node in cluster_nodes
	is_object(node)
	node.reachable == true
	load := node.cpu_load
	maximum := lib.doc.limits.max_cpu_load
	lib.usable(load)
	lib.usable(maximum)
	load > maximum
	msg := concat("", ["node ", node_label(i), ": cpu load ", lib.beside(load, maximum), " exceeds the maximum ", lib.fixed2(maximum)])
}

# Appended to the passed reason: "" without a cluster, so that reason stays as it was.
passed_cluster := "" if not lib.has_key(lib.doc, "cluster")

passed_cluster := concat("", [
	"; ", lib.plain(lib.doc.cluster.nodes_ready), "/", lib.plain(lib.doc.cluster.nodes_desired),
	" nodes ready (at most ", lib.plain(lib.doc.limits.max_nodes_down), " may be down), ",
	lib.plain(lib.doc.cluster.managers_reachable), "/", lib.plain(lib.doc.cluster.managers_desired),
	" managers reachable, disk and load within the limits on ",
	lib.plain(count(cluster_nodes) - count(unmeasured_nodes)), "/", lib.plain(count(cluster_nodes)), " nodes",
	listed("not reached over SSH: ", unmeasured_nodes),
]) if {
	cluster_ok
	lib.has_key(lib.doc, "cluster")
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
	" (maximum ", lib.fixed2(input.limits.max_cpu_load), ")", passed_cluster,
])] if {
	allow
}
