"""Pure builders for policy input documents.

Python never decides: these only shape what was measured and what the manifest allows
into the documents the policies read (see policies/*.rego for the contract).

Numbers are normalised so every engine formats them alike: float fields become floats
(rego-cpp formats ``sprintf("%.2f", [3])`` where OPA errors), count fields become ints.
A value that is not a number (a string, None, a bool) is passed through untouched, and NaN or
infinity becomes null, so the policy denies and names the field instead of Python repairing it.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

INFRASTRUCTURE_CONTEXT = "pre_deploy"
CANARY_CONTEXT = "pre_promote"
# The fields of a window (the canary's `metrics`, stable's `baseline`) the canary input carries.
WINDOW_KEYS = ("error_rate", "p99_latency_ms", "requests", "window_seconds")

_INFRA_FLOATS = {
    "stats": ("disk_free_gb", "cpu_load", "mem_available_mb"),
    "limits": ("min_disk_free_gb", "max_cpu_load"),
    "tls": ("days_left",),
}
_INFRA_INTS = {"stats": ("cpu_count",), "limits": ("min_certificate_days", "max_nodes_down"), "tls": ()}

# input.cluster (a swarm): whole counts, and each node's measured numbers.
_CLUSTER_INTS = ("nodes_desired", "nodes_ready", "managers_desired", "managers_reachable")
_NODE_FLOATS = ("disk_free_gb", "cpu_load")

_CANARY_FLOATS = {
    "metrics": ("error_rate", "p99_latency_ms", "window_seconds"),
    "limits": ("max_error_rate", "max_p99_latency_ms"),
}
_CANARY_INTS = {"metrics": ("requests",), "limits": ("min_requests",)}


def infrastructure_input(
    stats: Mapping[str, Any], limits: Mapping[str, Any], context: str = INFRASTRUCTURE_CONTEXT,
    tls: Mapping[str, Any] | None = None, cluster: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Input for data.swiftdeploy.infrastructure.decision.

    ``tls`` (HTTPS deployments only): the served certificate's ``days_left`` and whether this deploy
    ``renews`` it itself, for the expiry rule. ``cluster`` (a runtime of several nodes only, see
    ``cluster_input``): every node's state; ``stats`` is then the acting host's.
    """
    doc = {
        "context": context,
        "stats": _normalise(stats, _INFRA_FLOATS["stats"], _INFRA_INTS["stats"]),
        "limits": _normalise(limits, _INFRA_FLOATS["limits"], _INFRA_INTS["limits"]),
    }
    if tls is not None:
        # Not a mapping (a what-if's --set tls=5): passed as it is, for the policy to name it.
        doc["tls"] = _normalise(tls, _INFRA_FLOATS["tls"], _INFRA_INTS["tls"]) if isinstance(tls, Mapping) else tls
    if cluster is not None:
        doc["cluster"] = _cluster(cluster) if isinstance(cluster, Mapping) else cluster
    return doc


def cluster_input(nodes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``input.cluster`` from one entry per node the cluster should have (the inventory's), in its order.

    Each entry: ``name`` (the inventory's), ``role`` (manager | worker, the inventory's), ``ready`` (the
    swarm says so), ``reachable`` (SSH reached it this run), ``disk_free_gb`` and ``cpu_load`` (None when
    not measured), ``manager_reachable`` (the swarm lists it as a reachable manager); more keys go along
    for the audit. The counts say what the entries say: nothing is judged here.
    """
    entries = [dict(node) for node in nodes]
    managers = [node for node in entries if node.get("role") == "manager"]
    return _cluster({
        "nodes_desired": len(entries),
        "nodes_ready": sum(1 for node in entries if node.get("ready") is True),
        "managers_desired": len(managers),
        "managers_reachable": sum(1 for node in managers if node.get("manager_reachable") is True),
        "nodes": entries,
    })


def canary_input(
    metrics: Mapping[str, Any], limits: Mapping[str, Any], context: str = CANARY_CONTEXT,
    baseline: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Input for data.swiftdeploy.canary.decision.

    ``metrics`` is the canary's own window; ``baseline``, when stable served traffic in the
    same period, is stable's window, so a policy may compare the two.
    """
    doc = {
        "context": context,
        "metrics": _normalise(metrics, _CANARY_FLOATS["metrics"], _CANARY_INTS["metrics"]),
        "limits": _normalise(limits, _CANARY_FLOATS["limits"], _CANARY_INTS["limits"]),
    }
    if baseline is not None:
        doc["baseline"] = _normalise(baseline, _CANARY_FLOATS["metrics"], _CANARY_INTS["metrics"])
    return doc


def normalised(domain: str, document: Mapping[str, Any]) -> dict[str, Any]:
    """A whole input document (a what-if's, edited by key path) with its numbers shaped as the builders do."""
    if domain == "canary":
        shaped = canary_input(document.get("metrics") or {}, document.get("limits") or {},
                              document.get("context", CANARY_CONTEXT), baseline=document.get("baseline"))
    else:
        shaped = infrastructure_input(document.get("stats") or {}, document.get("limits") or {},
                                      document.get("context", INFRASTRUCTURE_CONTEXT), tls=document.get("tls"),
                                      cluster=document.get("cluster"))
    return {**document, **shaped}


def _cluster(cluster: Mapping[str, Any]) -> dict[str, Any]:
    out = _normalise(cluster, (), _CLUSTER_INTS)
    if isinstance(out.get("nodes"), list):
        out["nodes"] = [_normalise(node, _NODE_FLOATS, ()) if isinstance(node, Mapping) else node
                        for node in out["nodes"]]
    return out


def _normalise(values: Mapping[str, Any], floats: tuple[str, ...], ints: tuple[str, ...]) -> dict[str, Any]:
    out = dict(values)
    for key in floats + ints:
        # NaN/inf are not JSON (OPA would answer 400); null makes the policy name the field.
        if key in out and _is_number(out[key]) and not math.isfinite(out[key]):
            out[key] = None
    for key in floats:
        if key in out and _is_number(out[key]):
            out[key] = float(out[key])
    for key in ints:
        # Only whole values become ints; 7.5 requests stays 7.5 for the policy to refuse.
        if key in out and _is_number(out[key]) and float(out[key]).is_integer():
            out[key] = int(out[key])
    return out


def _is_number(value: Any) -> bool:
    # bool is an int subclass; True must not become 1.0 and slip past the policy's type check.
    return isinstance(value, (int, float)) and not isinstance(value, bool)
