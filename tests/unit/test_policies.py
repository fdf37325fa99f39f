"""The policies themselves, their input builders, the decision model and the case runner.

Every case in tests/policy_cases/*.yaml, and every other test that asks a policy, runs under
both in-process evaluators: the embedded engine (regopy, rego-cpp) and OPA's own Go evaluator
(GoEngine, the opa-golib-python-bindings wheel). Both must give the same allow and the same
reasons. The sidecar engine carries the same tables in test_policy_engines.py to a fake server
that decides with the embedded engine: a test of its transport, not a third evaluator; in
test_opa_standin.py it decides them in front of OPA's Go evaluator.

OPA's Go evaluator is required, never skipped: without the wheel every "opa-golib" test fails
naming scripts/install-opa-golib.sh (run by `make unit` and `make test`).
"""
from __future__ import annotations

import copy
import importlib.util
import math
import random
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from swiftlib.errors import ConfigError, PolicyEngineError
from swiftlib.policy.inputs import normalised
from swiftlib.policy import (
    Case,
    Decision,
    EmbeddedEngine,
    GoEngine,
    canary_input,
    check_case,
    cluster_input,
    infrastructure_input,
    load_case_dir,
    load_cases,
    run_cases,
)

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
CASES = ROOT / "tests" / "policy_cases"
FIXTURES = ROOT / "tests" / "fixtures" / "policy"

ALL_CASES = load_case_dir(CASES)


ENGINES = {"embedded": EmbeddedEngine, "opa-golib": GoEngine}
INSTALL_SCRIPT = "scripts/install-opa-golib.sh"


@pytest.fixture(scope="module", params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest) -> Any:
    """Each in-process evaluator in turn. Not loaded here: a missing wheel fails each test that
    asks it (PolicyEngineError naming the install script), it never skips them."""
    return ENGINES[request.param](POLICIES)


@pytest.fixture(scope="module")
def embedded() -> EmbeddedEngine:
    return EmbeddedEngine(POLICIES)


@pytest.fixture(scope="module")
def golib() -> GoEngine:
    return GoEngine(POLICIES)


def test_opas_go_evaluator_is_installed() -> None:
    if importlib.util.find_spec("opa_bindings") is None:
        pytest.fail(f"OPA's Go evaluator (opa-golib-python-bindings) is not installed; run `bash {INSTALL_SCRIPT}`")
    GoEngine(POLICIES).load()


def test_a_missing_go_evaluator_fails_naming_the_install_script(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "opa_bindings", None)  # import opa_bindings now raises ImportError
    with pytest.raises(PolicyEngineError) as caught:
        GoEngine(POLICIES).decide("canary", {})
    assert caught.value.reason == "unavailable" and caught.value.exit_code == 4
    assert INSTALL_SCRIPT in caught.value.message
    result = check_case(GoEngine(POLICIES), ALL_CASES[0])
    assert not result.passed and INSTALL_SCRIPT in result.detail


# --- the case tables ---------------------------------------------------------------

@pytest.mark.parametrize("case", ALL_CASES, ids=[f"{c.domain}: {c.name}" for c in ALL_CASES])
def test_policy_case(engine: Any, case: Case) -> None:
    result = check_case(engine, case)
    assert result.passed, result.detail


def test_case_tables_cover_both_outcomes_for_both_domains() -> None:
    for domain in ("infrastructure", "canary"):
        outcomes = {c.allow for c in ALL_CASES if c.domain == domain}
        assert outcomes == {True, False}, domain


def test_every_passing_decision_has_exactly_one_passed_reason(engine: Any) -> None:
    for case in ALL_CASES:
        decision = engine.decide(case.domain, case.input)
        if decision.allow:
            assert len(decision.reasons) == 1
            assert decision.reasons[0].startswith(f"{case.domain} policy passed")
        else:
            assert not any("policy passed" in r for r in decision.reasons), case.name


def test_run_cases_reports_a_wrong_expectation(engine: Any, tmp_path: Path) -> None:
    table = {
        "domain": "canary",
        "cases": [
            {"name": "claims allow", "input": None, "allow": True, "reasons_contain": ["nope"]},
            {"name": "claims exact reasons", "input": None, "allow": False, "reasons": ["other"]},
        ],
    }
    (tmp_path / "canary.yaml").write_text(yaml.safe_dump(table))
    results = run_cases(engine, tmp_path)
    assert [r.passed for r in results] == [False, False]
    assert "allow is False, expected True" in results[0].detail
    assert "no reason contains 'nope'" in results[0].detail
    assert "expected ['other']" in results[1].detail


def test_run_cases_reports_engine_errors_as_failed_cases(engine: Any, tmp_path: Path) -> None:
    (tmp_path / "missing.yaml").write_text(
        yaml.safe_dump({"cases": [{"name": "x", "input": {}, "allow": False, "reasons": ["x"]}]})
    )
    [result] = run_cases(engine, tmp_path)
    assert result.domain == "missing"  # the file name is the default domain
    assert not result.passed and result.detail.startswith("engine error (no_result)")


def test_run_cases_stops_with_exit_code_4_when_the_policies_do_not_load(engine: Any, tmp_path: Path) -> None:
    """`inv policy-test` exits 4 (engine failure), not 1 (a failed case each), on a syntax error."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "broken.rego").write_text((FIXTURES / "broken" / "broken.rego").read_text())
    with pytest.raises(PolicyEngineError) as caught:
        run_cases(type(engine)(policies), CASES)
    assert caught.value.exit_code == 4
    assert f"{policies / 'broken.rego'}:6:" in caught.value.message  # file:line:column


BAD_TABLES = yaml.safe_load((FIXTURES / "bad_case_tables.yaml").read_text())


@pytest.mark.parametrize("entry", BAD_TABLES, ids=[e["name"] for e in BAD_TABLES])
def test_load_cases_refuses_malformed_tables(entry: dict, tmp_path: Path) -> None:
    path = tmp_path / "table.yaml"
    path.write_text(yaml.safe_dump(entry["table"]))
    with pytest.raises(ConfigError) as caught:
        load_cases(path)
    assert entry["error"] in str(caught.value)
    assert str(path) in str(caught.value)


def test_load_case_dir_needs_case_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no \\*.yaml policy case files"):
        load_case_dir(tmp_path)


# --- the policies agree with their written specification -----------------------------

def _random_infra(rng: random.Random) -> tuple[dict, bool]:
    stats = {"disk_free_gb": rng.choice([0.0, 5.0, 10.0, 10.01, 9.99, rng.uniform(0, 100)]),
             "cpu_load": rng.choice([0.0, 1.0, 2.0, 2.01, rng.uniform(0, 8)]),
             "cpu_count": rng.randint(1, 64), "mem_available_mb": rng.uniform(0, 65536)}
    limits = {"min_disk_free_gb": rng.choice([0.0, 5.0, 10.0, rng.uniform(0, 100)]),
              "max_cpu_load": rng.choice([0.0, 1.0, 2.0, rng.uniform(0, 8)])}
    context = rng.choice(["pre_deploy"] * 5 + ["pre_promote"])
    expected = (context == "pre_deploy" and stats["disk_free_gb"] >= limits["min_disk_free_gb"]
                and stats["cpu_load"] <= limits["max_cpu_load"])
    return infrastructure_input(stats, limits, context=context), expected


def _random_canary(rng: random.Random) -> tuple[dict, bool]:
    metrics = {"error_rate": rng.choice([0.0, 0.01, 0.0101, rng.random()]),
               "p99_latency_ms": rng.choice([0.0, 500.0, 500.5, rng.uniform(0, 2000)]),
               "requests": rng.choice([0, 19, 20, 21, rng.randint(0, 5000)]),
               "window_seconds": rng.choice([30.0, 60.0, 300.0])}
    limits = {"max_error_rate": rng.choice([0.0, 0.01, 0.05, rng.random()]),
              "max_p99_latency_ms": rng.choice([100.0, 500.0, rng.uniform(0, 2000)]),
              "min_requests": rng.choice([0, 1, 20, rng.randint(0, 500)])}
    context = rng.choice(["pre_promote"] * 5 + ["pre_deploy"])
    expected = (context == "pre_promote" and metrics["requests"] >= limits["min_requests"]
                and metrics["error_rate"] <= limits["max_error_rate"]
                and metrics["p99_latency_ms"] <= limits["max_p99_latency_ms"])
    return canary_input(metrics, limits, context=context), expected


@pytest.mark.parametrize("domain,make", [("infrastructure", _random_infra), ("canary", _random_canary)])
def test_allow_matches_the_specification_for_random_inputs(engine: Any, domain: str, make) -> None:
    """Limits come only from the input: the decision follows them wherever they are set."""
    rng = random.Random(20240601)
    seen = set()
    for _ in range(300):
        document, expected = make(rng)
        decision = engine.decide(domain, document)
        assert decision.allow is expected, (document, decision.reasons)
        # one reason per failed condition, or exactly one passed reason
        assert decision.reasons, document
        seen.add(expected)
    assert seen == {True, False}


def test_no_threshold_is_written_in_the_decision_policies() -> None:
    for name in ("infrastructure.rego", "canary.rego"):
        text = (POLICIES / name).read_text()
        code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
        code = re.sub(r"contains \[\d+,", "contains [", code)  # reason ordering, not thresholds
        code = re.sub(r"\bv\[1\]", "v[]", code)  # the message of an [order, message] pair
        code = re.sub(r'"[^"\n]*"', '""', code)  # message text
        assert re.findall(r"(?<![\w.])\d+(?:\.\d+)?", code) == [], name


def test_policies_use_rego_v1_syntax() -> None:
    for path in POLICIES.glob("*.rego"):
        text = path.read_text()
        assert "import rego.v1" in text, path.name
        assert "import future.keywords" not in text, path.name


# --- input builders -------------------------------------------------------------------

def test_infrastructure_input_coerces_numbers_for_every_engine() -> None:
    stats = {"disk_free_gb": 3, "cpu_load": 1, "cpu_count": 2.0, "mem_available_mb": 512, "extra": "kept"}
    limits = {"min_disk_free_gb": 10, "max_cpu_load": 2}
    document = infrastructure_input(stats, limits)
    assert document == {
        "context": "pre_deploy",
        "stats": {"disk_free_gb": 3.0, "cpu_load": 1.0, "cpu_count": 2, "mem_available_mb": 512.0, "extra": "kept"},
        "limits": {"min_disk_free_gb": 10.0, "max_cpu_load": 2.0},
    }
    assert type(document["stats"]["disk_free_gb"]) is float
    assert type(document["stats"]["cpu_count"]) is int
    assert stats["disk_free_gb"] == 3 and type(stats["disk_free_gb"]) is int  # caller's mapping untouched


def test_canary_input_keeps_counts_whole_and_rates_float() -> None:
    document = canary_input(
        {"error_rate": 0, "p99_latency_ms": 120, "requests": 340.0, "window_seconds": 60},
        {"max_error_rate": 1, "max_p99_latency_ms": 500, "min_requests": 20.0},
        context="pre_promote",
    )
    assert document["metrics"] == {"error_rate": 0.0, "p99_latency_ms": 120.0, "requests": 340, "window_seconds": 60.0}
    assert document["limits"] == {"max_error_rate": 1.0, "max_p99_latency_ms": 500.0, "min_requests": 20}
    assert type(document["metrics"]["requests"]) is int
    assert type(document["metrics"]["error_rate"]) is float


@pytest.mark.parametrize(
    "value,expected",
    [("3.2", "3.2"), (None, None), (True, True), ([1], [1]), (float("nan"), None), (float("inf"), None)],
    ids=["string", "none", "bool", "list", "nan", "inf"],
)
def test_builders_never_repair_a_wrong_value(value, expected) -> None:
    stats = {"disk_free_gb": value, "cpu_load": 0.1, "cpu_count": 1, "mem_available_mb": 1.0}
    assert infrastructure_input(stats, {})["stats"]["disk_free_gb"] == expected


def test_fractional_requests_stay_fractional_so_the_policy_refuses_them(engine: Any) -> None:
    document = canary_input(
        {"error_rate": 0.0, "p99_latency_ms": 1.0, "requests": 20.5, "window_seconds": 60.0},
        {"max_error_rate": 0.01, "max_p99_latency_ms": 500.0, "min_requests": 20},
    )
    assert document["metrics"]["requests"] == 20.5
    decision = engine.decide("canary", document)
    assert not decision.allow
    assert decision.reasons == ("input.metrics.requests must be a whole number, got 20.50",)


def test_builder_output_reads_the_same_whatever_number_types_came_in(engine: Any) -> None:
    limits = {"min_disk_free_gb": 10, "max_cpu_load": 2}
    as_int = engine.decide("infrastructure", infrastructure_input(
        {"disk_free_gb": 3, "cpu_load": 1, "cpu_count": 2, "mem_available_mb": 100}, limits))
    as_float = engine.decide("infrastructure", infrastructure_input(
        {"disk_free_gb": 3.0, "cpu_load": 1.0, "cpu_count": 2, "mem_available_mb": 100.0}, limits))
    assert as_int == as_float
    assert as_int.reasons == ("disk free 3.00 GB is below the minimum 10.00 GB",)


def test_nan_from_a_collector_denies_naming_the_field(engine: Any) -> None:
    document = canary_input(
        {"error_rate": math.nan, "p99_latency_ms": 1.0, "requests": 50, "window_seconds": 60.0},
        {"max_error_rate": 0.01, "max_p99_latency_ms": 500.0, "min_requests": 20},
    )
    decision = engine.decide("canary", document)
    assert not decision.allow
    assert decision.reasons == ("input.metrics.error_rate must be a number, got null",)


def _node(name: str, role: str = "worker", *, ready: bool = True, reached: bool = True, disk: Any = 42.5,
          load: Any = 0.35, manager: bool | None = None) -> dict:
    return {"name": name, "role": role, "ready": ready, "reachable": reached,
            "disk_free_gb": disk if reached else None, "cpu_load": load if reached else None,
            "manager_reachable": role == "manager" if manager is None else manager,
            "availability": "active", "state": "ready" if ready else "down"}


INFRA_LIMITS = {"min_disk_free_gb": 10.0, "max_cpu_load": 2.0, "min_certificate_days": 7, "max_nodes_down": 0}
ACTING_STATS = {"disk_free_gb": 42.5, "cpu_load": 0.35, "cpu_count": 2, "mem_available_mb": 3072.0}


def test_cluster_input_counts_what_the_node_entries_say() -> None:
    nodes = [_node("m1", "manager"), _node("m2", "manager", ready=False, reached=False, manager=False),
             _node("m3", "manager"), _node("w1", ready=False), _node("w2", reached=False)]
    cluster = cluster_input(nodes)
    assert {k: v for k, v in cluster.items() if k != "nodes"} == {
        "nodes_desired": 5, "nodes_ready": 3, "managers_desired": 3, "managers_reachable": 2}
    assert [n["name"] for n in cluster["nodes"]] == ["m1", "m2", "m3", "w1", "w2"]  # the inventory's order
    assert cluster["nodes"][1]["disk_free_gb"] is None and cluster["nodes"][4]["cpu_load"] is None
    assert nodes[0]["disk_free_gb"] == 42.5 and cluster["nodes"][0] is not nodes[0]  # the caller's entries untouched


def test_cluster_input_counts_only_true_as_ready_and_reachable() -> None:
    """A truthy non-boolean is not a yes: the policy names the mistyped field instead."""
    cluster = cluster_input([{"name": "n", "role": "manager", "ready": "yes", "manager_reachable": 1}])
    assert (cluster["nodes_ready"], cluster["managers_reachable"]) == (0, 0)


def test_infrastructure_input_shapes_the_cluster_numbers_and_leaves_the_rest() -> None:
    cluster = {"nodes_desired": 2.0, "nodes_ready": 2, "managers_desired": 1, "managers_reachable": 1.0,
               "nodes": [_node("node1", "manager", disk=18, load=1), _node("node2", disk=float("nan")), "odd"]}
    document = infrastructure_input(ACTING_STATS, {**INFRA_LIMITS, "max_nodes_down": 1.0}, cluster=cluster)
    shaped = document["cluster"]
    assert (type(shaped["nodes_desired"]), type(shaped["managers_reachable"])) == (int, int)
    assert shaped["nodes"][0]["disk_free_gb"] == 18.0 and type(shaped["nodes"][0]["cpu_load"]) is float
    assert shaped["nodes"][1]["disk_free_gb"] is None  # NaN is not JSON: null, for the policy to name
    assert shaped["nodes"][2] == "odd"
    assert type(document["limits"]["max_nodes_down"]) is int
    assert document["stats"] == ACTING_STATS  # still the acting host's


def test_without_a_cluster_the_input_has_no_cluster_section() -> None:
    assert "cluster" not in infrastructure_input(ACTING_STATS, INFRA_LIMITS)
    assert "cluster" not in normalised("infrastructure", {"context": "pre_deploy", "stats": ACTING_STATS,
                                                           "limits": INFRA_LIMITS})


def test_a_what_if_keeps_the_cluster_and_shapes_it_again() -> None:
    document = infrastructure_input(ACTING_STATS, INFRA_LIMITS, cluster=cluster_input([_node("node1", "manager")]))
    document["cluster"]["nodes_ready"] = 0.0  # as `--set cluster.nodes_ready=0` leaves it from JSON
    again = normalised("infrastructure", document)
    assert again["cluster"]["nodes_ready"] == 0 and type(again["cluster"]["nodes_ready"]) is int
    assert again["cluster"]["nodes"] == document["cluster"]["nodes"]


def test_the_built_cluster_input_is_judged_by_the_policy(engine: Any) -> None:
    nodes = [_node("node1", "manager"), _node("node2"), _node("node3", reached=False)]
    allowed = engine.decide("infrastructure", infrastructure_input(ACTING_STATS, INFRA_LIMITS,
                                                                   cluster=cluster_input(nodes)))
    assert allowed.allow, allowed.reasons
    assert "3/3 nodes ready" in allowed.reasons[0] and "not reached over SSH: node3" in allowed.reasons[0]
    nodes[2] = _node("node3", ready=False, reached=False)
    denied = engine.decide("infrastructure", infrastructure_input(ACTING_STATS, INFRA_LIMITS,
                                                                  cluster=cluster_input(nodes)))
    assert not denied.allow
    assert denied.reasons == ("nodes not ready: 1 of 3 (node3), more than policy_limits.infrastructure.max_nodes_down "
                              "allows (0); bring them back (see `inv cluster`), or raise "
                              "policy_limits.infrastructure.max_nodes_down to deploy anyway",)


def test_without_a_cluster_the_decision_is_what_it_was(engine: Any) -> None:
    """The limits now carry max_nodes_down for every deploy; a single host's decision reads as before."""
    decision = engine.decide("infrastructure", infrastructure_input(ACTING_STATS, INFRA_LIMITS))
    assert decision.reasons == ("infrastructure policy passed: disk free 42.50 GB (minimum 10.00 GB), "
                                "cpu load 0.35 (maximum 2.00)",)


# --- both evaluators agree beyond the tables ---------------------------------------------

GOOD = {
    "canary": {"context": "pre_promote",
               "metrics": {"error_rate": 0.002, "p99_latency_ms": 120.5, "requests": 340, "window_seconds": 60.0},
               "limits": {"max_error_rate": 0.01, "max_p99_latency_ms": 500.0, "min_requests": 20}},
    "infrastructure": {"context": "pre_deploy",
                       "stats": {"disk_free_gb": 42.5, "cpu_load": 0.35, "cpu_count": 2, "mem_available_mb": 3072.0},
                       "limits": {"min_disk_free_gb": 10.0, "max_cpu_load": 2.0}},
}
# Wrong types, edge numbers, half-way decimals, numbers past double's six-digit formatting
# and past the policies' range.
ODD_VALUES = [
    "x", "", None, True, False, [1], [], {"a": 1}, {}, 7.5, 0, -1.25, 1e-5, 1e-7, 0.0100001, 500.0001,
    1.005, 2.675, 79.715, 76.975, 0.015, -0.005, 123456.789, 999999999.5, 1000000000, 1e300, -0.0,
]


def _mutate(rng: random.Random, document: dict) -> Any:
    out = copy.deepcopy(document)
    for _ in range(rng.randint(1, 4)):
        if rng.random() < 0.03:
            return rng.choice([None, [], "pre_deploy", 3])
        if not out:
            break
        key = rng.choice(sorted(out))
        section = out[key]
        if isinstance(section, dict) and section and rng.random() < 0.85:
            field = rng.choice(sorted(section))
            roll = rng.random()
            if roll < 0.2:
                del section[field]
            elif roll < 0.55:
                section[field] = rng.choice(ODD_VALUES)
            else:
                section[field] = rng.choice([rng.uniform(-10, 1000), rng.randint(0, 1000),
                                             round(rng.uniform(0, 100), 3), rng.random() / 10])
        elif rng.random() < 0.3:
            del out[key]
        else:
            out[key] = rng.choice(ODD_VALUES + ["pre_promote", "pre_deploy", "two words", "Pre_Deploy"])
    return out


def _answer(engine: Any, domain: str, document: Any) -> Any:
    try:
        return engine.decide(domain, document)
    except PolicyEngineError as exc:
        return ("error", exc.reason)


@pytest.mark.parametrize("domain", sorted(GOOD))
def test_both_evaluators_give_the_same_decision_for_mangled_inputs(
    domain: str, embedded: EmbeddedEngine, golib: GoEngine
) -> None:
    rng = random.Random(f"agree-{domain}")
    different = []
    for _ in range(400):
        document = _mutate(rng, GOOD[domain])
        expected, got = _answer(golib, domain, document), _answer(embedded, domain, document)
        if got != expected:
            different.append((document, got, expected))
    assert different == [], f"{len(different)} differ; first (input, embedded, OPA): {different[0]}"


CLUSTER = {**GOOD["infrastructure"],
           "limits": {**GOOD["infrastructure"]["limits"], "min_certificate_days": 7, "max_nodes_down": 1},
           "cluster": cluster_input([_node("m1", "manager"), _node("m2", "manager", ready=False, reached=False,
                                                                    manager=False),
                                     _node("m3", "manager"), _node("web-1"), _node("web-2", disk=10.5, load=1.95)])}


def _mutate_cluster(rng: random.Random) -> Any:
    """The cluster input with its counts, its nodes and the nodes' fields mangled (and sometimes the rest)."""
    out = copy.deepcopy(CLUSTER)
    cluster = out["cluster"]
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        if roll < 0.3:
            key = rng.choice(sorted(k for k in cluster if k != "nodes"))
            cluster[key] = rng.choice(ODD_VALUES + [0, 1, 2, 3, 5])
        elif roll < 0.8 and cluster["nodes"]:
            node = rng.choice(cluster["nodes"])
            if isinstance(node, dict) and node:
                field = rng.choice(sorted(node))
                if rng.random() < 0.2:
                    del node[field]
                else:
                    node[field] = rng.choice(ODD_VALUES + ["manager", "worker", "a b", 'x"y'])
        elif roll < 0.9:
            cluster["nodes"][rng.randrange(len(cluster["nodes"]))] = rng.choice(ODD_VALUES)
        else:
            return _mutate(rng, out)
    return out


def test_both_evaluators_give_the_same_decision_for_mangled_cluster_inputs(
    embedded: EmbeddedEngine, golib: GoEngine
) -> None:
    rng = random.Random("agree-cluster")
    different, outcomes = [], set()
    for _ in range(400):
        document = _mutate_cluster(rng)
        expected, got = _answer(golib, "infrastructure", document), _answer(embedded, "infrastructure", document)
        outcomes.add(getattr(expected, "allow", None))
        if got != expected:
            different.append((document, got, expected))
    assert different == [], f"{len(different)} differ; first (input, embedded, OPA): {different[0]}"
    assert outcomes == {True, False}


@pytest.mark.parametrize("value", [round(k / 100 + 0.005, 3) for k in range(0, 10000, 97)] + [79.715, 76.975, 2.675, 1.005])
def test_both_evaluators_round_half_way_values_alike(value: float, embedded: EmbeddedEngine, golib: GoEngine) -> None:
    document = {"context": "pre_promote",
                "metrics": {"error_rate": value / 100, "p99_latency_ms": value, "requests": 5, "window_seconds": value},
                "limits": {"max_error_rate": value / 1000, "max_p99_latency_ms": value / 2, "min_requests": 10}}
    assert embedded.decide("canary", document) == golib.decide("canary", document)


def test_the_embedded_engine_keeps_every_digit_of_the_input(embedded: EmbeddedEngine) -> None:
    """regopy's Input(value) kept ~6 significant digits, so 500.0001 ms read as 500 and allowed."""
    document = canary_input(
        {"error_rate": 0.0, "p99_latency_ms": 500.0001, "requests": 50, "window_seconds": 60.0},
        {"max_error_rate": 0.01, "max_p99_latency_ms": 500.0, "min_requests": 20},
    )
    decision = embedded.decide("canary", document)
    assert not decision.allow
    assert decision.reasons == ("p99 latency 500.0001 ms exceeds the maximum 500.00 ms",)


# --- the decision model ---------------------------------------------------------------

SHAPES = yaml.safe_load((FIXTURES / "decision_shapes.yaml").read_text())


@pytest.mark.parametrize("entry", SHAPES, ids=[e["name"] for e in SHAPES])
def test_decision_from_result_validates_shape(entry: dict) -> None:
    if entry.get("ok"):
        decision = Decision.from_result(entry["result"], engine="test")
        assert decision.to_dict() == entry["result"]
        assert isinstance(decision.reasons, tuple)
    else:
        with pytest.raises(PolicyEngineError) as caught:
            Decision.from_result(entry["result"], engine="test")
        assert caught.value.reason == "bad_shape"
        assert caught.value.exit_code == 4
        assert entry["problem"] in str(caught.value)
        assert "policy engine 'test'" in str(caught.value)


def test_decision_is_immutable() -> None:
    decision = Decision("canary", "q", True, ("canary policy passed",))
    with pytest.raises(AttributeError):
        decision.allow = False  # type: ignore[misc]
