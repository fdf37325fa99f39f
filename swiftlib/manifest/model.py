"""The manifest model: typed, immutable, validated once at load time.

``build_manifest(raw)`` turns the parsed YAML mapping into a ``Manifest`` or raises
``ManifestError`` listing every problem as ``key.path: expected ..., got ...``.
Defaults live in ``DEFAULTS`` and nowhere else. Pure: no file or network I/O here
(reading and writing the file is ``manifest_file``).
"""
from __future__ import annotations

import copy
import posixpath
from dataclasses import dataclass
from typing import Any, Mapping

from . import checks as c
from ..errors import ManifestError

MODES = ("stable", "canary")
ENGINES = ("auto", "sidecar", "embedded")
RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")
NETWORK_DRIVERS = ("bridge", "overlay")
METRICS_SOURCES = ("scrape", "prometheus")
HEALTH_CHECK_FROM = ("host", "controller")
TLS_SOURCES = ("files", "acme", "local")
RUNTIMES = ("compose", "swarm")
# dnsrr first: VIP mode needs IPVS in the kernel, which many hosts lack.
ENDPOINT_MODES = ("dnsrr", "vip")
MAX_REPLICAS = 100
MAX_NODES = 10_000  # an inventory's hosts at most: no swarm has more nodes to be down
LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"

# Every optional field and its default, in one place. Required fields are absent here.
DEFAULTS: dict[str, Any] = {
    "services": {"restart_policy": "unless-stopped", "container_name": "swiftdeploy-app", "replicas": 1,
                 # Docker's healthcheck of the app's containers (both tracks). The swarm runtime's update
                 # monitor is derived from it: how long a new task must keep answering.
                 "healthcheck": {"interval_seconds": 2, "timeout_seconds": 2, "retries": 15,
                                 "start_period_seconds": 2}},
    "nginx": {"proxy_timeout": 30, "admin_port": 8081, "container_name": "swiftdeploy-nginx"},
    "opa": {
        "image": "openpolicyagent/opa:1.4.2",
        "port": 8181,
        "policies_dir": "./policies",
        "decision_timeout_seconds": 2.0,
        "engine": "auto",
        "container_name": "swiftdeploy-opa",
    },
    "network": {"name": "swiftdeploy-net", "driver_type": "bridge"},
    "logs": {"volume_name": "swiftdeploy-logs"},
    "policy_limits": {
        # min_certificate_days: a deploy is denied while a certificate it serves expires sooner (tls only).
        # max_nodes_down: how many of a swarm's nodes may be not ready when it deploys (runtime swarm only).
        "infrastructure": {"min_disk_free_gb": 10.0, "max_cpu_load": 2.0, "min_certificate_days": 7,
                           "max_nodes_down": 0},
        "canary": {
            "max_error_rate": 0.01,
            "max_p99_latency_ms": 500.0,
            "evaluation_window_seconds": 60.0,
            "min_requests": 20,
        },
    },
    "audit": {"history_file": "history.jsonl", "report_file": "audit_report.md"},
    # canary.image and canary.version default to the stable ones (see OPTIONAL).
    "canary": {"weight": 10, "steps": [10, 25, 50], "replicas": 1},
    "hooks": {"dir": "hooks"},
    # Where the canary gate's numbers come from: two scrapes of /metrics, or a Prometheus in the stack.
    "metrics": {
        "source": "scrape",
        "prometheus": {
            "image": "prom/prometheus:v2.53.3",
            "port": 9090,
            "scrape_interval_seconds": 2,
            "container_name": "swiftdeploy-prometheus",
        },
    },
    # Every container gets a memory limit (swap included: none beyond it) and a process limit.
    "limits": {
        "app": {"memory": "256m", "pids": 128},
        "nginx": {"memory": "128m", "pids": 64},
        "opa": {"memory": "256m", "pids": 256},          # Go: threads grow with the host's CPUs
        "prometheus": {"memory": "768m", "pids": 256},   # its 256m tmpfs of samples counts as memory
    },
    "deploy": {
        "project_name": "swiftdeploy",
        "health_timeout_seconds": 60.0,
        "remote_dir": "swiftdeploy",
        "connect_timeout_seconds": 10.0,
        # Where the public /healthz is asked from: the host itself (over SSH for a remote one), or outside.
        "health_check_from": "host",
        # compose: one Docker host, one container per track; swarm: `docker stack deploy` on a cluster.
        "runtime": "compose",
        # Read only with runtime swarm.
        "swarm": {"endpoint_mode": "dnsrr", "constraints": [], "encrypted_network": False},
    },
}

# The optional `tls` section (absent: plain HTTP on nginx.port), with its defaults.
TLS_DEFAULTS: dict[str, Any] = {
    "port": 443,
    "hsts_seconds": 0,        # Strict-Transport-Security max-age; 0 sends no header
    "renew_days": 30,         # a local or ACME certificate is renewed when fewer days are left
    "ca_file": "",            # what clients trust for the certificate ("": the system's store; local: the project CA)
    "files": {"certificate": None, "key": None},
    "acme": {"directory": LETS_ENCRYPT, "email": "", "directory_ca_file": ""},
}
TLS_SCHEMA = {**TLS_DEFAULTS, "source": None, "hosts": None}

# Fields whose default is another field's value, filled in by build_manifest.
OPTIONAL: dict[str, Any] = {"canary": {"image": None, "version": None}}

# Fields without a default: the user must write them.
REQUIRED: dict[str, Any] = {
    "services": {"image": None, "port": None, "mode": None, "version": None},
    "nginx": {"image": None, "port": None, "contact": None},
}


@dataclass(frozen=True)
class Healthcheck:
    """A container's healthcheck timing in whole seconds: the templates state it from here, so a value
    derived from it (how long a new container may take to turn healthy) cannot drift from it."""

    interval: int
    timeout: int
    retries: int
    start_period: int = 0

    @property
    def settled_seconds(self) -> int:
        """Seconds after its start by which a container that never answers is declared unhealthy."""
        return self.start_period + self.interval * self.retries


DEFAULT_APP_HEALTHCHECK = Healthcheck(*(DEFAULTS["services"]["healthcheck"][name] for name in (
    "interval_seconds", "timeout_seconds", "retries", "start_period_seconds")))


@dataclass(frozen=True)
class AppService:
    image: str
    port: int
    mode: str
    version: str
    restart_policy: str
    container_name: str
    replicas: int = 1  # tasks of the stable (and next) track; more than 1 needs deploy.runtime: swarm
    healthcheck: Healthcheck = DEFAULT_APP_HEALTHCHECK


@dataclass(frozen=True)
class Canary:
    """The canary track: what it runs, its share of traffic, and the steps of `inv rollout`."""

    image: str
    version: str
    weight: int  # percent of public requests while a canary runs
    steps: tuple[int, ...]  # rollout weights, strictly increasing
    replicas: int = 1  # tasks of the canary track; more than 1 needs deploy.runtime: swarm


@dataclass(frozen=True)
class Nginx:
    image: str
    port: int
    proxy_timeout: int
    contact: str
    admin_port: int
    container_name: str


@dataclass(frozen=True)
class Opa:
    image: str
    port: int
    policies_dir: str
    decision_timeout_seconds: float
    engine: str
    container_name: str


@dataclass(frozen=True)
class Network:
    name: str
    driver_type: str


@dataclass(frozen=True)
class InfrastructureLimits:
    min_disk_free_gb: float
    max_cpu_load: float
    min_certificate_days: int = 7
    max_nodes_down: int = 0  # a swarm's nodes that may be not ready at a deploy (read with a cluster only)

    def to_dict(self) -> dict[str, float]:
        return {"min_disk_free_gb": self.min_disk_free_gb, "max_cpu_load": self.max_cpu_load,
                "min_certificate_days": self.min_certificate_days, "max_nodes_down": self.max_nodes_down}


@dataclass(frozen=True)
class CanaryLimits:
    max_error_rate: float
    max_p99_latency_ms: float
    evaluation_window_seconds: float
    min_requests: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "max_error_rate": self.max_error_rate,
            "max_p99_latency_ms": self.max_p99_latency_ms,
            "evaluation_window_seconds": self.evaluation_window_seconds,
            "min_requests": self.min_requests,
        }


@dataclass(frozen=True)
class Audit:
    history_file: str
    report_file: str


@dataclass(frozen=True)
class SwarmSettings:
    """``deploy.swarm``: how the stack's services are placed and reached on a Docker Swarm."""

    endpoint_mode: str = "dnsrr"  # "dnsrr" | "vip"
    constraints: tuple[str, ...] = ()  # placement constraints of the app tracks, e.g. "node.labels.role == app"
    encrypted_network: bool = False  # the overlay network's traffic encrypted (IPsec) between nodes


DEFAULT_SWARM = SwarmSettings()


@dataclass(frozen=True)
class DeploySettings:
    project_name: str
    health_timeout_seconds: float
    remote_dir: str
    connect_timeout_seconds: float
    health_check_from: str = "host"  # "host" | "controller"
    runtime: str = "compose"  # "compose" | "swarm"
    swarm: SwarmSettings = DEFAULT_SWARM

    @property
    def uses_swarm(self) -> bool:
        return self.runtime == "swarm"


@dataclass(frozen=True)
class Prometheus:
    """The Prometheus server the stack runs when ``metrics.source`` is prometheus (loopback only)."""

    image: str
    port: int
    scrape_interval_seconds: int
    container_name: str


@dataclass(frozen=True)
class MetricsSettings:
    source: str  # "scrape" | "prometheus"
    prometheus: Prometheus

    @property
    def uses_prometheus(self) -> bool:
        return self.source == "prometheus"


DEFAULT_METRICS = MetricsSettings("scrape", Prometheus(**DEFAULTS["metrics"]["prometheus"]))


@dataclass(frozen=True)
class ContainerLimits:
    memory: str  # a Docker size: 256m
    pids: int


@dataclass(frozen=True)
class Limits:
    """Memory and process limits per container of the stack (every app track takes ``app``'s)."""

    app: ContainerLimits
    nginx: ContainerLimits
    opa: ContainerLimits
    prometheus: ContainerLimits


@dataclass(frozen=True)
class SecretSource:
    """Where the value of one secret comes from on the controller; the app reads /run/secrets/<name>."""

    name: str
    kind: str  # "env" | "file" | "command"
    ref: str   # the variable, the path (absolute or ~/), or the command line


SECRET_KINDS = ("env", "file", "command")


@dataclass(frozen=True)
class TlsFiles:
    """``tls.source: files``: a certificate chain (leaf first) and its key, paths inside the project."""

    certificate: str
    key: str


@dataclass(frozen=True)
class Acme:
    """``tls.source: acme``: the CA's ACME directory (any RFC 8555 CA), HTTP-01 served by nginx."""

    directory: str
    email: str               # "" registers the account without a contact
    directory_ca_file: str   # what the controller trusts for the directory's own HTTPS ("": the system's store)


@dataclass(frozen=True)
class Tls:
    """HTTPS on ``port`` for ``hosts``; nginx.port then only redirects (and answers the ACME challenge)."""

    source: str  # "files" | "acme" | "local"
    hosts: tuple[str, ...]
    port: int
    hsts_seconds: int
    renew_days: int
    ca_file: str
    files: TlsFiles | None = None
    acme: Acme | None = None


CONTAINERS = ("app", "nginx", "opa", "prometheus")
DEFAULT_LIMITS = Limits(*(ContainerLimits(**DEFAULTS["limits"][name]) for name in CONTAINERS))


@dataclass(frozen=True)
class Manifest:
    services: AppService
    nginx: Nginx
    opa: Opa
    network: Network
    logs_volume: str
    infrastructure_limits: InfrastructureLimits
    canary_limits: CanaryLimits
    audit: Audit
    deploy: DeploySettings
    canary: Canary
    hooks_dir: str
    metrics: MetricsSettings = DEFAULT_METRICS
    limits: Limits = DEFAULT_LIMITS
    secrets: tuple[SecretSource, ...] = ()
    tls: Tls | None = None

    def with_mode(self, mode: str) -> "Manifest":
        from dataclasses import replace

        return replace(self, services=replace(self.services, mode=mode))


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Mapping merge where ``override`` wins; nested mappings merge key by key."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def build_manifest(raw: Any, *, overrides: Mapping[str, Any] | None = None) -> Manifest:
    """Validate the parsed manifest (plus per-host overrides) into a ``Manifest``."""
    if not isinstance(raw, Mapping):
        raise ManifestError(f"top level: expected a mapping of sections, got {c.describe(raw)}")
    v = c.Validator({})
    schema = deep_merge(deep_merge(DEFAULTS, REQUIRED), OPTIONAL)
    malformed = False
    for layer, label in ((raw, ""), (overrides or {}, "override ")):
        # `secrets` names are the user's own: checked by _secrets, not against the schema; `tls` has no
        # defaults unless present, so it is checked against its own schema.
        unknown, broken = c.shape_problems({k: val for k, val in layer.items() if k != "secrets"},
                                           {**schema, "tls": TLS_SCHEMA, "secrets": {}})
        v.problems.extend(label + p for p in unknown + broken)
        malformed = malformed or bool(broken)
    if malformed:  # a section that is not a mapping would make every field in it "missing"
        v.finish()
    merged = deep_merge(DEFAULTS, raw)
    if overrides:
        merged = deep_merge(merged, overrides)
    services_raw = merged.get("services")
    if isinstance(services_raw, dict) and services_raw.get("restart_policy") is False:
        # YAML reads a bare `no` as false; for this field it can only mean Docker's policy "no".
        services_raw["restart_policy"] = "no"
    v.data = merged

    services = AppService(
        image=v.image("services.image"),
        port=v.port("services.port"),
        mode=v.choice("services.mode", MODES),
        version=v.token("services.version"),
        restart_policy=v.choice("services.restart_policy", RESTART_POLICIES),
        container_name=v.name("services.container_name"),
        replicas=v.integer("services.replicas", 1, MAX_REPLICAS),
        healthcheck=Healthcheck(
            interval=v.integer("services.healthcheck.interval_seconds", 1, 3600),
            timeout=v.integer("services.healthcheck.timeout_seconds", 1, 3600),
            retries=v.integer("services.healthcheck.retries", 1, 100),
            start_period=v.integer("services.healthcheck.start_period_seconds", 0, 3600),
        ),
    )
    nginx = Nginx(
        image=v.image("nginx.image"),
        port=v.port("nginx.port"),
        proxy_timeout=v.integer("nginx.proxy_timeout", 1, 3600),
        contact=v.contact("nginx.contact"),
        admin_port=v.port("nginx.admin_port"),
        container_name=v.name("nginx.container_name"),
    )
    opa = Opa(
        image=v.image("opa.image"),
        port=v.port("opa.port"),
        policies_dir=v.rel_path("opa.policies_dir", directory=True),
        decision_timeout_seconds=v.number("opa.decision_timeout_seconds", 0.01, 300),
        engine=v.choice("opa.engine", ENGINES),
        container_name=v.name("opa.container_name"),
    )
    network = Network(name=v.name("network.name"), driver_type=v.choice("network.driver_type", NETWORK_DRIVERS))
    logs_volume = v.name("logs.volume_name")
    infra = InfrastructureLimits(
        min_disk_free_gb=v.number("policy_limits.infrastructure.min_disk_free_gb", 0, 1e6),
        max_cpu_load=v.number("policy_limits.infrastructure.max_cpu_load", 0, 1e4),
        min_certificate_days=v.integer("policy_limits.infrastructure.min_certificate_days", 0, 3650),
        max_nodes_down=v.integer("policy_limits.infrastructure.max_nodes_down", 0, MAX_NODES),
    )
    canary = CanaryLimits(
        max_error_rate=v.number("policy_limits.canary.max_error_rate", 0, 1),
        max_p99_latency_ms=v.number("policy_limits.canary.max_p99_latency_ms", 0, 1e7),
        evaluation_window_seconds=v.number("policy_limits.canary.evaluation_window_seconds", 1, 86400),
        min_requests=v.integer("policy_limits.canary.min_requests", 0, 10**9),
    )
    audit = Audit(history_file=v.rel_path("audit.history_file"), report_file=v.rel_path("audit.report_file"))
    if audit.history_file and audit.report_file and (
            posixpath.normpath(audit.report_file) == posixpath.normpath(audit.history_file)):
        v.problem("audit.report_file", f"must differ from audit.history_file ({audit.history_file}): "
                  "writing the report would replace the audit trail")
    deploy = DeploySettings(
        project_name=v.project_name("deploy.project_name"),
        health_timeout_seconds=v.number("deploy.health_timeout_seconds", 1, 3600),
        remote_dir=v.rel_path("deploy.remote_dir", allow_home=True, directory=True),
        connect_timeout_seconds=v.number("deploy.connect_timeout_seconds", 0.5, 300),
        health_check_from=v.choice("deploy.health_check_from", HEALTH_CHECK_FROM),
        runtime=v.choice("deploy.runtime", RUNTIMES),
        swarm=_swarm(v),
    )
    # The canary runs the stable image and version unless told otherwise.
    given = merged.get("canary") or {}
    canary_track = Canary(
        image=v.image("canary.image") if "image" in given else services.image,
        version=v.token("canary.version") if "version" in given else services.version,
        weight=v.integer("canary.weight", 1, 100),
        steps=v.percent_steps("canary.steps"),
        replicas=v.integer("canary.replicas", 1, MAX_REPLICAS),
    )
    hooks_dir = v.rel_path("hooks.dir", directory=True)
    metrics = _metrics(v, canary.evaluation_window_seconds)
    ports = {"nginx.port": nginx.port, "nginx.admin_port": nginx.admin_port, "opa.port": opa.port}
    if metrics.uses_prometheus:
        ports["metrics.prometheus.port"] = metrics.prometheus.port
    seen: dict[int, str] = {}
    for key, port in ports.items():
        if port in seen:
            v.problem(key, f"must differ from {seen[port]} ({port})")
        seen[port] = key
    _distinct_container_names(v, services, nginx, opa, metrics)
    limits = Limits(*(ContainerLimits(memory=v.memory(f"limits.{name}.memory"),
                                      pids=v.integer(f"limits.{name}.pids", 16, 32768)) for name in CONTAINERS))
    secrets = _secrets(v, merged.get("secrets"))
    tls = _tls(v, merged, ports)
    _runtime_fits(v, deploy, services, canary_track, opa, metrics, secrets)
    v.finish()
    return Manifest(services, nginx, opa, network, logs_volume, infra, canary, audit, deploy, canary_track, hooks_dir,
                    metrics, limits, secrets, tls)


MAX_TLS_HOSTS = 100
MAX_CONSTRAINTS = 20
# Swarm names a service <stack>_<service> and allows 63 characters; the longest service is app-canary.
SWARM_SERVICE_NAME_MAX = 63
LONGEST_SERVICE = "app-canary"
# A swarm secret is named <project>_<NAME>_<12 hex digits of the values' fingerprint>, at most 64 characters.
SWARM_SECRET_NAME_MAX = 64
SWARM_SECRET_FINGERPRINT = 12


def _swarm(v: c.Validator) -> SwarmSettings:
    return SwarmSettings(
        endpoint_mode=v.choice("deploy.swarm.endpoint_mode", ENDPOINT_MODES),
        constraints=v.placement_constraints("deploy.swarm.constraints", MAX_CONSTRAINTS),
        encrypted_network=v.boolean("deploy.swarm.encrypted_network"),
    )


def _runtime_fits(v: c.Validator, deploy: DeploySettings, services: AppService, canary: Canary, opa: Opa,
                  metrics: MetricsSettings, secrets: tuple[SecretSource, ...]) -> None:
    """What each runtime cannot do, named by the field that asks for it."""
    if deploy.runtime == "compose":
        for key, replicas in (("services.replicas", services.replicas), ("canary.replicas", canary.replicas)):
            if replicas is not None and replicas > 1:
                v.problem(key, f"{replicas} needs deploy.runtime: swarm (compose runs one container per track)")
        if deploy.swarm is not None and deploy.swarm != DEFAULT_SWARM:
            v.problem("deploy.swarm", "only read with deploy.runtime: swarm (this manifest says compose)")
    if deploy.runtime != "swarm":
        return
    if opa.engine == "sidecar":
        v.problem("opa.engine", "sidecar is not available with deploy.runtime: swarm (the OPA sidecar lives on one "
                                "host's loopback); use embedded, or auto, which embeds the policy engine on a swarm")
    if metrics.source == "prometheus":
        v.problem("metrics.source", "prometheus is not supported on deploy.runtime: swarm yet; the gate scrapes "
                                    "every task of the canary directly (use scrape)")
    project = deploy.project_name
    if project is None:  # already reported as invalid
        return
    if len(project) + 1 + len(LONGEST_SERVICE) > SWARM_SERVICE_NAME_MAX:
        v.problem("deploy.project_name", f"at most {SWARM_SERVICE_NAME_MAX - 1 - len(LONGEST_SERVICE)} characters "
                  f"with deploy.runtime: swarm (the service {project}_{LONGEST_SERVICE} must fit swarm's "
                  f"{SWARM_SERVICE_NAME_MAX}), got {len(project)}")
    for secret in secrets:
        name = f"{project}_{secret.name}_" + "0" * SWARM_SECRET_FINGERPRINT
        if len(name) > SWARM_SECRET_NAME_MAX:
            v.problem(f"secrets.{secret.name}", f"with deploy.runtime: swarm the secret is named <project>_<NAME>_"
                      f"<{SWARM_SECRET_FINGERPRINT} hex digits>, at most {SWARM_SECRET_NAME_MAX} characters: "
                      f"{len(name)} with deploy.project_name {project!r}; shorten one of them")


def _tls(v: c.Validator, merged: dict[str, Any], ports: Mapping[str, int]) -> Tls | None:
    """The optional ``tls`` section: absent or null is plain HTTP."""
    raw = merged.get("tls")
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        v.problem("tls", f"expected a mapping (source, hosts, port, ...), got {c.describe(raw)}")
        return None
    merged["tls"] = given = deep_merge(TLS_DEFAULTS, raw)
    source = v.choice("tls.source", TLS_SOURCES)
    hosts = v.host_names("tls.hosts", MAX_TLS_HOSTS)
    port = v.port("tls.port")
    for key, other in ports.items():
        if port is not None and port == other:
            v.problem("tls.port", f"must differ from {key} ({other})")
    files = acme = None
    if source == "files":
        files = TlsFiles(certificate=v.rel_path("tls.files.certificate"), key=v.rel_path("tls.files.key"))
    elif "certificate" in (raw.get("files") or {}) or "key" in (raw.get("files") or {}):
        v.problem("tls.files", f"only read with tls.source: files (this manifest says {given.get('source')})")
    if source == "acme" and any(h.startswith("*.") for h in hosts):
        v.problem("tls.hosts", "an ACME CA validates names over HTTP-01, which cannot prove a wildcard; "
                               "name each host, or use tls.source files with a wildcard certificate")
    if source == "acme":
        acme = Acme(directory=v.https_url("tls.acme.directory"), email=v.optional_email("tls.acme.email"),
                    directory_ca_file=v.file_path("tls.acme.directory_ca_file"))
    return Tls(source=source, hosts=hosts, port=port, hsts_seconds=v.integer("tls.hsts_seconds", 0, 63072000),
               renew_days=v.integer("tls.renew_days", 1, 3650), ca_file=v.file_path("tls.ca_file"),
               files=files, acme=acme)


MAX_SECRETS = 100


def _secrets(v: c.Validator, raw: Any) -> tuple[SecretSource, ...]:
    """``secrets: {NAME: {env|file|command: ...}}``: each name once, one source each, never a value."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        v.problem("secrets", f"expected a mapping of NAME: {{env|file|command: ...}}, got {c.describe(raw)}")
        return ()
    if len(raw) > MAX_SECRETS:
        v.problem("secrets", f"at most {MAX_SECRETS} secrets, got {len(raw)}")
        return ()
    found = []
    for name, source in raw.items():
        key = f"secrets.{name}"
        if not (isinstance(name, str) and c.SECRET_NAME.fullmatch(name)):
            v.problem(key, "a secret's name is 1-64 capital letters, digits and '_', starting with a letter "
                           "(the app reads /run/secrets/<NAME>)")
            continue
        if not (isinstance(source, Mapping) and len(source) == 1 and next(iter(source)) in SECRET_KINDS):
            given = (f"a mapping with {', '.join(map(str, source)) or 'no keys'}" if isinstance(source, Mapping)
                     else f"a {type(source).__name__} (not shown: it may be the secret itself)")
            v.problem(key, "expected exactly one of {env: VARIABLE}, {file: /absolute/or/~/path}, {command: \"...\"}"
                           f" (the value itself never goes in the manifest), got {given}")
            continue
        kind, ref = next(iter(source.items()))
        problem = c.secret_source_problem(kind, ref)
        if problem:
            v.problem(f"{key}.{kind}", problem)
            continue
        found.append(SecretSource(name, kind, ref))
    return tuple(found)


def _distinct_container_names(v: c.Validator, services: AppService, nginx: Nginx, opa: Opa,
                              metrics: MetricsSettings) -> None:
    """Two services under one container name would make `compose up` fail half way through the stack.

    The app's tracks take ``services.container_name`` and that name + ``-canary`` / ``-next``.
    """
    base = services.container_name
    names = {"services.container_name": base, "services.container_name (canary track)": f"{base}-canary",
             "services.container_name (next track)": f"{base}-next", "nginx.container_name": nginx.container_name,
             "opa.container_name": opa.container_name}
    if metrics.uses_prometheus:
        names["metrics.prometheus.container_name"] = metrics.prometheus.container_name
    taken: dict[str, str] = {}
    for key, name in names.items():
        if not name:  # already reported as invalid
            continue
        if name in taken:
            v.problem(key.split(" (")[0], f"container name {name!r} is also {taken[name]}'s; "
                                          "every container of the stack needs its own name")
        taken.setdefault(name, key)


def _metrics(v: c.Validator, window: float | None) -> MetricsSettings:
    prometheus = Prometheus(
        image=v.image("metrics.prometheus.image"),
        port=v.port("metrics.prometheus.port"),
        scrape_interval_seconds=v.integer("metrics.prometheus.scrape_interval_seconds", 1, 60),
        container_name=v.name("metrics.prometheus.container_name"),
    )
    settings = MetricsSettings(source=v.choice("metrics.source", METRICS_SOURCES), prometheus=prometheus)
    interval = prometheus.scrape_interval_seconds
    # increase() needs two samples inside the window, so the window must hold two scrape intervals.
    if settings.uses_prometheus and interval and window and 2 * interval > window:
        v.problem("metrics.prometheus.scrape_interval_seconds",
                  f"must be at most half of policy_limits.canary.evaluation_window_seconds ({window:g}) "
                  f"so every window holds two samples, got {interval}")
    return settings
