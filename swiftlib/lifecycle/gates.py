"""Policy gates: gather the facts, ask the engine, record and enforce its answer.

Python never decides allow/deny here: it measures (host stats, canary window),
builds the input, and obeys the Decision. Every outcome is audited: policy_check
(allowed), policy_violation (denied), policy_engine_failure (no usable answer).
"""
from __future__ import annotations

from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Callable, Iterator, Sequence

from ..errors import MetricsSourceError, PolicyDenied, PolicyEngineError, SwiftDeployError, UsageError
from ..hoststats import collect_host_stats
from ..policy.decision import Decision
from ..policy.embedded import shared_engine
from ..policy.inputs import WINDOW_KEYS, canary_input, cluster_input, infrastructure_input, normalised
from ..policy.whatif import apply_sets, fresh_input
from ..metrics.scrape import WindowStats
from ..results import Reporter, StepResult
from ..observe import canary_window
from . import sidecar_advice
from .context import Project, Target
from .engine_choice import EngineChoice
from .traffic import current_split

QUESTIONS = {"infrastructure": "pre_deploy", "canary": "pre_promote"}
CONTEXTS = QUESTIONS
DOMAIN_OF = {context: domain for domain, context in CONTEXTS.items()}  # `--context pre_deploy` -> infrastructure


@contextmanager
def policy_engine(project: Project, target: Target, choice: EngineChoice, *, ready_seconds: float | None = None,
                  reporter: Reporter | None = None, audit: bool = True) -> Iterator[Any]:
    """The engine to ask: in-process Rego, or the OPA sidecar on the target's loopback.

    A sidecar that never becomes ready is a policy engine failure like any other:
    audited, reported, exit 4.
    """
    if choice.engine == "embedded":
        yield shared_engine(project.policies_dir)
        return
    from ..policy.sidecar import SidecarEngine

    opa = target.manifest.opa
    with target.loopback(opa.port) as base_url:
        engine = SidecarEngine(base_url, opa.decision_timeout_seconds)
        try:
            # A sidecar that is already up answers at once; give one that is starting a little time.
            engine.wait_ready(ready_seconds if ready_seconds is not None else max(3.0, 3 * opa.decision_timeout_seconds))
        except PolicyEngineError as exc:
            failure = PolicyEngineError(f"{exc.message}; {sidecar_advice.for_target(target)}", reason=exc.reason,
                                        host=target.name)
            data = {"engine": "sidecar", "reason": failure.reason, "message": failure.message}
            if audit:
                project.audit.append("policy_engine_failure", data, host=target.name)
            if reporter is not None:
                reporter.record(StepResult("policy engine", target.name, "failed", failure.message, data,
                                           failure.exit_code))
            raise failure from exc
        yield engine


def prepare_engine(project: Project, choice: EngineChoice, domain: str) -> None:
    """Compile the embedded engine's policies and ``domain``'s plan before its first question (a sidecar
    has compiled its own); raise PolicyEngineError."""
    if choice.engine == "embedded":
        shared_engine(project.policies_dir).prepare(domain)


def _sidecar_answers(target: Target) -> bool:
    from ..policy.sidecar import SidecarEngine

    with target.loopback(target.manifest.opa.port) as base_url:
        try:
            SidecarEngine(base_url, target.manifest.opa.decision_timeout_seconds).wait_ready(1.0)
            return True
        except PolicyEngineError:
            return False


def engine_for_check(project: Project, target: Target, choice: EngineChoice) -> AbstractContextManager[Any]:
    """Check mode starts nothing: ask a sidecar that already runs, else the same policies in-process."""
    if choice.engine == "sidecar" and _sidecar_answers(target):
        return policy_engine(project, target, choice, ready_seconds=1.0)
    return nullcontext(shared_engine(project.policies_dir))


def decide(project: Project, target: Target, reporter: Reporter, engine: Any,
           domain: str, policy_input: dict[str, Any], *, task: str, evidence: dict[str, Any] | None = None,
           advice: str = "") -> Decision:
    """Ask ``engine`` about ``domain``; audit the outcome; raise unless allowed.

    ``evidence`` goes into the audit record beside the input (where the numbers came from),
    never into the input the policy sees; ``advice`` follows a deny's reasons (what to do).
    """
    base = {"domain": domain, "context": policy_input.get("context"), "engine": engine.name, **(evidence or {})}
    try:
        decision = engine.decide(domain, policy_input)
    except PolicyEngineError as exc:
        exc.host = target.name
        project.audit.append("policy_engine_failure", {**base, "reason": exc.reason, "message": exc.message}, host=target.name)
        reporter.record(StepResult(task, target.name, "failed", f"{engine.name} engine: {exc.message}",
                                   {**base, "reason": exc.reason}, exc.exit_code))
        raise
    data = {**base, **decision.to_dict(), "input": policy_input}
    reasons = "; ".join(decision.reasons)
    if decision.allow:
        project.audit.append("policy_check", data, host=target.name)
        reporter.record(StepResult(task, target.name, "ok", f"{domain}: allow ({engine.name}) — {reasons}", data))
        return decision
    project.audit.append("policy_violation", data, host=target.name)
    message = f"{domain} policy denied ({engine.name}): {reasons}{advice}"
    reporter.record(StepResult(task, target.name, "failed", message, data, PolicyDenied.exit_code))
    raise PolicyDenied(message, decision=decision, host=target.name)


def cluster_facts(target: Target) -> dict[str, Any] | None:
    """``input.cluster`` from a runtime of several nodes (each node's readiness, disk, load); None for one host."""
    nodes = target.runtime.nodes()
    return cluster_input([node.to_input() for node in nodes]) if nodes is not None else None


def infrastructure_gate(project: Project, target: Target, reporter: Reporter, engine: Any) -> Decision:
    """The target host's stats; and, from a runtime of several nodes, each node's (``input.cluster``)."""
    stats = collect_host_stats(target.host)
    from .certificates import policy_input as tls_input

    policy_input = infrastructure_input(stats.to_dict(), target.manifest.infrastructure_limits.to_dict(),
                                        tls=tls_input(project, target), cluster=cluster_facts(target))
    return decide(project, target, reporter, engine, "infrastructure", policy_input, task="policy: pre_deploy")




def measure_canary(project: Project, target: Target, reporter: Reporter,
                   **kwargs: Any) -> tuple[WindowStats, WindowStats | None]:
    """`canary_window.measure`, with a metrics source that gave nothing usable audited like an engine failure.

    Without numbers the canary policy cannot be asked: `policy_engine_failure` (with the source),
    a failed step, exit 4 — and a rollout rolls back, as for any gate without an answer.
    """
    try:
        return canary_window.measure(target, **kwargs)
    except MetricsSourceError as exc:
        exc.host = target.name
        data = {"domain": "canary", "context": QUESTIONS["canary"], "source": target.manifest.metrics.source,
                "reason": exc.reason, "message": exc.message}
        project.audit.append("policy_engine_failure", data, host=target.name)
        reporter.record(StepResult("canary window", target.name, "failed", exc.message, data, exc.exit_code))
        raise


def canary_gate(project: Project, target: Target, reporter: Reporter, engine: Any, window: dict[str, Any],
                baseline: dict[str, Any] | None = None) -> Decision:
    """Judge the canary's own window; stable's window of the same period goes along as `baseline`."""
    metrics = {k: window[k] for k in WINDOW_KEYS}
    policy_input = canary_input(metrics, target.manifest.canary_limits.to_dict(),
                                baseline={k: baseline[k] for k in WINDOW_KEYS} if baseline else None)
    weight = current_split(target).get("canary", 0)
    return decide(project, target, reporter, engine, "canary", policy_input, task="policy: pre_promote",
                  evidence={"metrics_source": target.manifest.metrics.source},
                  advice=traffic_advice(metrics, target.manifest.canary_limits.min_requests, weight))


def traffic_advice(window: dict[str, Any], needed: int, weight: int) -> str:
    """What to do when the window held fewer requests than the canary policy needs (pure; "" otherwise).

    An idle stack gives the gate nothing to judge: say what the canary saw and what it would take.
    """
    seen, seconds = window.get("requests"), window.get("window_seconds")
    if not isinstance(seen, int) or not isinstance(seconds, (int, float)) or seconds <= 0 or seen >= needed:
        return ""
    share = f"the canary gets {weight}% of the public requests" if weight > 0 else "no public request goes to the canary"
    wanted = f"; send at least {needed / seconds * 100 / weight:.1f} req/s to the public port while it is measured" \
        if weight > 0 else ""
    return (f" ({share} and saw {seen / seconds:.1f} req/s{wanted}, or raise canary.weight, lengthen "
            "policy_limits.canary.evaluation_window_seconds or lower policy_limits.canary.min_requests)")


def last_input(project: Project, target: Target, domain: str) -> dict[str, Any] | None:
    """The input of the newest audited decision on ``domain`` for this host (a what-if's starting point)."""
    try:
        events = project.audit.read(skip_unreadable=True)
    except SwiftDeployError:
        return None
    for event in reversed(events):
        data = event.get("data") or {}
        if (event.get("event_type") in ("policy_check", "policy_violation") and event.get("host") == target.name
                and data.get("domain") == domain and isinstance(data.get("input"), dict)):
            return data["input"]
    return None


def what_if(project: Project, target: Target, reporter: Reporter, engine: Any, domain: str,
            sets: Sequence[str]) -> Decision:
    """Ask about a changed input: the last audited one with ``sets`` applied. Nothing is collected or changed.

    Recorded as `policy_what_if` (never as a check or violation); exit 3 on deny as a real gate would.
    """
    task = f"policy what-if: {CONTEXTS[domain]}"
    try:
        base = last_input(project, target, domain)
        if base is None:  # a question about given values: answered when they (and the limits) make an input
            m = target.manifest
            limits = m.canary_limits.to_dict() if domain == "canary" else m.infrastructure_limits.to_dict()
            policy_input = fresh_input(domain, CONTEXTS[domain], limits, sets)
        else:
            policy_input = apply_sets(base, sets)
        policy_input = normalised(domain, policy_input)
    except UsageError as exc:  # named as this task in the output, not a generic "run"
        exc.host = target.name
        reporter.record(StepResult(task, target.name, "failed", exc.message, {"domain": domain}, exc.exit_code))
        raise
    try:
        decision = engine.decide(domain, policy_input)
    except PolicyEngineError as exc:
        exc.host = target.name
        reporter.record(StepResult(task, target.name, "failed", f"{engine.name} engine: {exc.message}",
                                   {"domain": domain, "reason": exc.reason}, exc.exit_code))
        raise
    data = {"domain": domain, "engine": engine.name, "what_if": list(sets), **decision.to_dict(), "input": policy_input}
    project.audit.append("policy_what_if", data, host=target.name)
    reasons = "; ".join(decision.reasons)
    if decision.allow:
        reporter.record(StepResult(task, target.name, "ok", f"what-if {domain}: allow — {reasons}", data))
        return decision
    message = f"what-if {domain} policy would deny: {reasons}"
    reporter.record(StepResult(task, target.name, "failed", message, data, PolicyDenied.exit_code))
    raise PolicyDenied(message, decision=decision, host=target.name)


def ask_now(project: Project, target: Target, reporter: Reporter, engine: Any, context: str,
            sets: Sequence[str] = (), *, on_wait: Callable[[float], None] | None = None) -> Decision:
    """`inv opa-check`: the gate of ``context`` asked now (a what-if when ``sets`` are given)."""
    domain = DOMAIN_OF[context]
    if sets:
        return what_if(project, target, reporter, engine, domain, sets)
    if domain == "infrastructure":
        return infrastructure_gate(project, target, reporter, engine)
    stats, baseline = measure_canary(project, target, reporter, on_wait=on_wait)
    return canary_gate(project, target, reporter, engine, stats.to_dict(), baseline.to_dict() if baseline else None)
