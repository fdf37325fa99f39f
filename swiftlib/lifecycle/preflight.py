"""Pre-flight checks: everything that must hold before anything is started.

Each check yields PASS or FAIL with a reason. The rendered files are checked from a
scratch directory inside the project directory, so `--check` runs never touch the
real generated files.
"""
from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .. import commands
from ..errors import ManifestError, PreflightFailed, SwiftDeployError
from ..manifest.model import Manifest, build_manifest
from ..manifest.load import load_raw
from ..netstat import listening_ports
from ..render import COMPOSE_FILE, NGINX_FILE
from ..tracks import TRAFFIC_DIR, TRAFFIC_FILE
from ..results import Reporter, StepResult
from . import certificates, ownership
from .context import Project, Target

SCRATCH = ".swiftdeploy/preflight"
NGINX_PASSED_KEY = "nginx_t_passed"  # in the host's state: the digest of files that passed `nginx -t`, @ the image ID
COMPOSE_PASSED_KEY = "compose_config_passed"  # the digest of a compose file that passed, @ engine and compose versions
SCRATCH_TLS_DIR = "tls"


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    reason: str

    def line(self) -> str:
        return f"  {'PASS' if self.passed else 'FAIL'}  {self.name}: {self.reason}"


def manifest_checks(path: Path) -> tuple[list[Check], Manifest | None]:
    """Checks 1-2: the file exists and is YAML; the fields are present and well-typed."""
    try:
        raw = load_raw(path)
    except ManifestError as exc:
        return [Check("manifest is readable YAML", False, str(exc)),
                Check("manifest fields", False, "skipped: the file could not be read")], None
    first = Check("manifest is readable YAML", True, f"{path.name} parsed")
    try:
        manifest = build_manifest(raw)
    except ManifestError as exc:
        return [first, Check("manifest fields", False, "; ".join(exc.problems))], None
    return [first, Check("manifest fields", True, "all required fields present and well-typed")], manifest


def _probe(name: str, fn: Callable[[], Check]) -> Check:
    try:
        return fn()
    except SwiftDeployError as exc:
        return Check(name, False, exc.message)


def _image_present(target: Target, name: str, image: str, missing: str) -> Check:
    """``image`` is on the target, or on this machine to be streamed there; else ``missing`` says what to do."""
    if target.host.succeeds(commands.image_exists(image)):
        return Check(name, True, f"{image} is on {target.name}")
    if target.host.is_remote:
        from ..host import Host

        if Host.local().succeeds(commands.image_exists(image)):
            return Check(name, True, f"{image} will be streamed from this machine (docker save | docker load)")
        return Check(name, False, f"{image} is on neither {target.name} nor this machine; {missing}")
    return Check(name, False, f"{image} is not on {target.name}; {missing}")


def image_check(target: Target) -> Check:
    return _image_present(target, "app image present", target.manifest.services.image,
                          "run `inv bootstrap` here to build it")


def prometheus_image_check(target: Target) -> Check:
    """With metrics.source: prometheus, the stack runs a Prometheus server: its image must be here."""
    return _image_present(target, "prometheus image present", target.manifest.metrics.prometheus.image,
                          "run `inv bootstrap` (it pulls the image, or builds it from Debian's prometheus package) "
                          "with this manifest")


def opa_image_check(target: Target) -> Check:
    """With the OPA sidecar, its image must be here: `up` would otherwise try a registry and fail there."""
    image = target.manifest.opa.image
    return _image_present(target, "opa image present", image,
                          f"pull or load it (`docker pull {image}`), or set opa.engine: embedded (or auto) to "
                          "use the in-process Rego engine")


def port_check(target: Target, *, include_opa: bool = False) -> Check:
    """The stack's host ports are free, or held by this very stack (a redeploy)."""
    m = target.manifest
    wanted = {m.nginx.port: ("nginx.port", m.nginx.container_name),
              m.nginx.admin_port: ("nginx.admin_port", m.nginx.container_name)}
    if m.tls:
        wanted[m.tls.port] = ("tls.port", m.nginx.container_name)
    if include_opa:
        wanted[m.opa.port] = ("opa.port", m.opa.container_name)
    if m.metrics.uses_prometheus:
        wanted[m.metrics.prometheus.port] = ("metrics.prometheus.port", m.metrics.prometheus.container_name)
    listening = listening_ports(target.host.run(commands.listening_sockets(), check=False).stdout)
    problems, ours = [], []
    for port, (field, owner) in sorted(wanted.items()):
        if port not in listening:
            continue
        holders = target.runtime.publishers(port)
        if owner in holders:
            ours.append(str(port))
            continue
        who = f"container {', '.join(holders)}" if holders else "another process"
        problems.append(f"port {port} ({field}) is in use by {who}")
    name = "ports free"
    if problems:
        return Check(name, False, "; ".join(problems) + "; free it or change the manifest")
    ports = ", ".join(str(p) for p in sorted(wanted))
    return Check(name, True, f"ports {ports} free" + (f" (held by this stack: {', '.join(ours)})" if ours else ""))


def _nginx_inputs(files: dict[str, str], target: Target) -> str:
    """Everything `nginx -t` reads but the image: the config, the split it includes, whether a certificate
    (a throwaway stand-in, always valid) sits where the config expects one."""
    parts = (files[NGINX_FILE], files[TRAFFIC_FILE], "tls" if target.manifest.tls else "")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _compose_inputs(files: dict[str, str], engine_identity: str) -> str | None:
    """The compose file's digest @ the engine and compose versions that judged it (None: unknown versions)."""
    if "|" not in engine_identity:
        return None
    digest = hashlib.sha256(files[COMPOSE_FILE].encode()).hexdigest()
    return f"{digest}@{engine_identity.strip()}"


def nginx_check(target: Target, conf_path: str, inputs: str | None = None) -> Check:
    """`nginx -t` of the rendered config in the manifest's nginx image (or the host's nginx). ``inputs``:
    the digest of what it reads, to answer from an earlier pass of the same files in the same image."""
    name = "nginx -t"
    image = target.manifest.nginx.image
    found = target.host.run(commands.image_exists(image), check=False)
    passed = f"{inputs}@{found.stdout.strip()}" if inputs and found.ok else None
    if passed and target.read_state().get(NGINX_PASSED_KEY) == passed:
        return Check(name, True, f"configuration accepted in {image} (the same files passed it there before)")
    if found.ok:
        scratch = conf_path.rsplit("/", 1)[0]
        tls_dir = f"{scratch}/{SCRATCH_TLS_DIR}" if target.manifest.tls else None
        argv, where = commands.nginx_test_in_container(image, conf_path, f"{scratch}/{TRAFFIC_DIR}", tls_dir), \
            f"in {image}"
    elif target.host.succeeds(["sh", "-c", "command -v nginx"]):
        argv, where = commands.nginx_test_local(conf_path), "with the host's nginx"
    else:
        return Check(name, False, f"neither {image} nor a local nginx is available; run `inv bootstrap`")
    result = target.host.run(argv, check=False, timeout=60)
    text = (result.stderr or result.stdout).strip()
    if result.ok:
        if passed:
            target.write_state(**{NGINX_PASSED_KEY: passed})
        return Check(name, True, f"configuration accepted {where}")
    return Check(name, False, f"rejected {where}: {text.splitlines()[-1] if text else 'no output'}")


def compose_check(target: Target, compose_path: str, passed: str | None = None) -> Check:
    """The runtime's own check of the rendered compose file. ``passed``: the file's digest with the engine's
    identity, to answer from an earlier pass of the same file by the same engine and compose."""
    name = "docker compose config"
    if passed and target.read_state().get(COMPOSE_PASSED_KEY) == passed:
        return Check(name, True, f"{target.runtime.accepted} (the same file passed it before)")
    refused = target.runtime.refuses(compose_path)
    if refused is None:
        if passed:
            target.write_state(**{COMPOSE_PASSED_KEY: passed})
        return Check(name, True, target.runtime.accepted)
    return Check(name, False, refused)


def ownership_check(target: Target, *, include_opa: bool) -> Check:
    """The containers, network and volume the stack would create are absent or already this project's."""
    problems = ownership.foreign(target, include_opa=include_opa)
    if problems:
        return Check("names are this stack's", False, "; ".join(problems))
    return Check("names are this stack's", True, "containers, network and volume are free or belong to "
                                                 + target.runtime.owner_text(target.compose_project))


def engine_check(target: Target, identity: list[str] | None = None) -> Check:
    """Whether a Docker engine answers; ``identity`` receives its `<version>|<compose version>` line."""
    result = target.host.run(commands.engine_identity(), check=False, timeout=30)
    if identity is not None and result.ok:
        identity.append(result.stdout.strip())
    if result.ok:
        return Check("docker engine", True, f"Docker {result.stdout.split('|')[0].strip()} answers on {target.name}")
    said = (result.stderr or result.stdout).strip().splitlines()
    hint = ("run `inv bootstrap` (as root) to install and start it"
            if not target.host.is_remote else "start Docker there, or give the SSH user access to it")
    return Check("docker engine", False, f"no Docker engine answers on {target.name} ({said[-1] if said else 'no output'}); {hint}")


def host_checks(target: Target, files: dict[str, str], *, include_opa: bool = False,
                reuse: bool = False) -> list[Check]:
    """Checks on the target host, against freshly rendered file contents.

    Without a Docker engine the other checks would only repeat its absence, so they wait for it.
    ``reuse`` (a deploy, not `validate` or --check): `nginx -t` of files that already passed it in the
    same nginx image, and `docker compose config` of a compose file that passed it with the same engine
    and compose versions, are not run again; a pass is remembered in the host's state.
    """
    copies = {f"{SCRATCH}/{source}": files[source] for source in (NGINX_FILE, COMPOSE_FILE, TRAFFIC_FILE)}
    if target.manifest.tls:  # nginx -t loads a certificate: a throwaway one stands in for the real one
        stand_in = certificates.stand_in(target.manifest.tls.hosts)
        copies.update({f"{SCRATCH}/{SCRATCH_TLS_DIR}/{name}": text for name, text in stand_in.items()})
    try:  # scratch copies only: nothing of them stays on the host, whatever ends the checks (Ctrl-C too)
        return _checks_on_copies(target, files, copies, include_opa=include_opa, reuse=reuse)
    finally:
        _at_once(target.workspace.remove, list(copies))


def _checks_on_copies(target: Target, files: dict[str, str], copies: dict[str, str], *, include_opa: bool,
                      reuse: bool) -> list[Check]:
    scratch = list(copies)
    identity: list[str] = []
    # The engine is asked while the scratch copies are written (over SSH: a round trip each, all at once).
    with ThreadPoolExecutor(max_workers=1) as pool:
        written = pool.submit(_at_once, lambda name: target.workspace.write(name, copies[name]), scratch)
        engine = _probe("docker engine", lambda: engine_check(target, identity))
        failed_write = written.exception()
    if not engine.passed:  # without an engine the other checks would only repeat its absence
        return [engine]
    if failed_write is not None:
        raise failed_write
    conf, compose_file = _at_once(target.workspace.path, scratch[:2])
    compose_passed = _compose_inputs(files, identity[0]) if reuse and identity else None
    probes = [
        ("app image present", lambda: image_check(target)),
        ("ports free", lambda: port_check(target, include_opa=include_opa)),
        ("names are this stack's", lambda: ownership_check(target, include_opa=include_opa)),
        ("nginx -t", lambda: nginx_check(target, conf, _nginx_inputs(files, target) if reuse else None)),
        ("docker compose config", lambda: compose_check(target, compose_file, compose_passed)),
    ]
    if target.manifest.metrics.uses_prometheus:
        probes.append(("prometheus image present", lambda: prometheus_image_check(target)))
    if include_opa:
        probes.append(("opa image present", lambda: opa_image_check(target)))
    # The checks are independent host round trips (nginx -t starts a container): run them together.
    with ThreadPoolExecutor(max_workers=len(probes)) as pool:
        return [engine, *pool.map(lambda probe: _probe(*probe), probes)]


def _at_once(call: Callable[[str], Any], names: list[str]) -> list[Any]:
    """``call`` on every name together (each an independent file on the host); the first error is raised."""
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        return list(pool.map(call, names))


def tls_checks(project: Project, target: Target) -> list[Check]:
    """The files ``tls`` names (on this machine): each readable, and a ``files`` certificate able to serve
    ``tls.hosts`` now (key, chain, names, dates; against ``tls.ca_file`` when set). [] without tls."""
    tls = target.manifest.tls
    if tls is None:
        return []
    return [_probe("tls files", lambda: _tls_files_check(project, target))]


def _tls_files_check(project: Project, target: Target) -> Check:
    from ..tls import certinfo, keystore

    name = "tls files"
    tls = target.manifest.tls
    for key, path, what in (("tls.ca_file", tls.ca_file, "the trusted CA"),
                            ("tls.acme.directory_ca_file", tls.acme.directory_ca_file if tls.acme else "",
                             "the CA of the ACME directory")):
        if path:
            try:
                certinfo.load_chain(keystore.read_pem(project.root, path, what, key=key))
            except ValueError as exc:
                return Check(name, False, f"{key}: {path}: not a PEM certificate bundle ({exc})")
    if tls.source != "files":
        return Check(name, True, f"tls.source {tls.source}: the certificate is made by SwiftDeploy")
    chain_key = keystore.files_source(project.root, target.manifest)
    problems = certificates.usable_problems(project, target.manifest, chain_key)
    if problems:
        return Check(name, False, f"tls.files.certificate: {tls.files.certificate}: {'; '.join(problems)}")
    info = certinfo.describe(certinfo.load_chain(chain_key[0])[0])
    return Check(name, True, f"{tls.files.certificate} serves {', '.join(tls.hosts)} "
                             f"({info.days_left(certinfo.now_utc()):g} days left, issuer {info.issuer})")


def report(checks: list[Check], target_name: str, reporter: Reporter) -> StepResult:
    failures = [c for c in checks if not c.passed]
    data = {"checks": [{"name": c.name, "passed": c.passed, "reason": c.reason} for c in checks]}
    lines = [c.line() for c in checks]
    if failures:
        msg = f"{len(failures)} of {len(checks)} pre-flight checks failed: " + "; ".join(c.name for c in failures)
        result = StepResult("validate", target_name, "failed", msg, data, PreflightFailed.exit_code)
        reporter.record(result, lines)
        raise PreflightFailed(msg, checks=checks, host=target_name)
    return reporter.record(StepResult("validate", target_name, "ok", f"{len(checks)} checks passed", data), lines)
